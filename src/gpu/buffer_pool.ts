/**
 * A pool of GPU buffers: released buffers are reused by later requests of the same usage and
 * size class, so steady-state work allocates nothing.
 *
 * @module
 */

/**
 * Buffers bucketed by usage and size rounded up to a power of two (at least 256 bytes).
 * @example
 * ```ts
 * import { tryGetGpu } from "./context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const buf = gpu.pool.acquire(4096, GPUBufferUsage.STORAGE);
 *   gpu.pool.release(buf);
 *   gpu.pool.acquire(3000, GPUBufferUsage.STORAGE) === buf; // true: same usage and size class
 * }
 * ```
 */
export class BufferPool {
  readonly #device: GPUDevice;
  readonly #free = new Map<string, GPUBuffer[]>();
  #allocatedBytes = 0;

  /** @param device the device buffers are created on */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Bytes held by buffers this pool created (in use or free). */
  get allocatedBytes(): number {
    return this.#allocatedBytes;
  }

  /** A buffer of at least `bytes` bytes with exactly `usage`. */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const list = this.#free.get(`${usage}:${size}`);
    const reused = list?.pop();
    if (reused) return reused;
    this.#allocatedBytes += size;
    return this.#device.createBuffer({ size, usage, label });
  }

  /** Returns a buffer from {@link acquire} for reuse. */
  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    const list = this.#free.get(key);
    if (list) list.push(buffer);
    else this.#free.set(key, [buffer]);
  }

  /** Destroys every free buffer. */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.#allocatedBytes -= b.size;
        b.destroy();
      }
    }
    this.#free.clear();
  }

  /** The size a request of `bytes` is rounded up to. */
  static sizeClass(bytes: number): number {
    return Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
  }
}
