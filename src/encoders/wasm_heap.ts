/**
 * A shared WASM heap sized up front, so that onnxruntime-web's threads never see it grow.
 *
 * Why: Deno does not install V8's WASM trap handler, so a pthread already running inside WASM
 * keeps the old bounds of a shared `WebAssembly.Memory` after another thread grows it; it then
 * dies with "memory access out of bounds" and the calling thread waits for it forever (with 2
 * threads, a batch of 8 on the demo image tower hung in most runs). A heap created at its full
 * size never grows. Linux commits a page only when it is touched, so the resident memory stays
 * what the models use.
 *
 * The Emscripten loader inside onnxruntime-web creates its heap itself
 * (`new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true })`) and takes no memory
 * from outside, so {@link withSizedWasmHeap} swaps the `WebAssembly.Memory` constructor for the
 * duration of the runtime's start and restores it after.
 *
 * @module
 */

/**
 * Heap sizes tried, largest first, in 64 KiB pages: 4 GiB less one page (a heap of exactly 4 GiB
 * makes onnxruntime-web's allocator fail), then smaller where the address space is limited
 * (`ulimit -v`). The heap is fixed at that size: a model that needs more fails to allocate
 * instead of growing the heap.
 */
export const WASM_HEAP_PAGES: readonly number[] = [65535, 32768, 16384];

/**
 * Runs `start` (the first onnxruntime-web session's creation) with every shared
 * `WebAssembly.Memory` it creates sized to the first of {@link WASM_HEAP_PAGES} this process
 * can reserve, with that size as its maximum too. Unshared memories are created as asked.
 * @example
 * ```ts
 * const pages = await withSizedWasmHeap(() =>
 *   Promise.resolve(new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true }))
 * ).then((m) => m.buffer.byteLength / 65536);
 * console.log(pages); // 65535: reserved now, committed page by page when touched
 * ```
 */
export async function withSizedWasmHeap<T>(start: () => Promise<T>): Promise<T> {
  const Memory = WebAssembly.Memory;
  const sized = function (desc: WebAssembly.MemoryDescriptor): WebAssembly.Memory {
    // Only a growable shared memory is the heap (a fixed one is a feature probe).
    if (!desc.shared || desc.maximum === desc.initial) return new Memory(desc);
    for (const pages of WASM_HEAP_PAGES) {
      if (pages < desc.initial) break;
      try {
        return new Memory({ ...desc, initial: pages, maximum: pages });
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    }
    return new Memory(desc);
  } as unknown as typeof WebAssembly.Memory;
  sized.prototype = Memory.prototype;
  WebAssembly.Memory = sized;
  try {
    return await start();
  } finally {
    WebAssembly.Memory = Memory;
  }
}
