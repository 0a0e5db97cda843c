/**
 * Kernels described as data (name, WGSL file, entry point, workgroup size, bindings), and
 * prepared dispatches: a pipeline, a bind group and a grid, built once and encoded as often as
 * needed, so many dispatches go into one command encoder and the host reads back rarely.
 *
 * @module
 */

/**
 * How a kernel sees one binding (group 0, in order): `uniform` is a uniform buffer (the first one
 * is the shape/parameter struct), `read` a read-only storage buffer, `write` a read-write storage
 * buffer, `read-texture` a read-only `texture_storage_2d<rgba32float, read>`, `storage-texture` a
 * write-only `texture_storage_2d<rgba32float, write>`.
 */
export type BindingKind = "uniform" | "read" | "write" | "read-texture" | "storage-texture";

/**
 * A compute kernel described as data.
 *
 * The workgroup size reaches the WGSL as the pipeline-overridable constants `WG_X` (and `WG_Y`,
 * `WG_Z` for 2-D and 3-D sizes), which the kernel declares with `override`; `constants` adds other
 * true compile-time constants. Shapes never go here: they travel as uniforms, so one pipeline
 * serves every size.
 *
 * @example
 * ```ts
 * const spec: KernelSpec = {
 *   name: "l2norm_forward",
 *   file: "l2norm.wgsl",
 *   entryPoint: "l2norm_forward",
 *   workgroupSize: [64],
 *   bindings: ["uniform", "read", "write", "write"],
 * };
 * ```
 */
export interface KernelSpec {
  /** Unique name, the pipeline cache key together with the constants. */
  readonly name: string;
  /** File under `kernels/`. */
  readonly file: string;
  /**
   * Another file under `kernels/`, appended to `file`: functions that `file` calls and that come
   * in variants for different devices (WGSL has no include). Part of the pipeline key.
   */
  readonly library?: string;
  /** WGSL entry point. */
  readonly entryPoint: string;
  /** Workgroup size, 1 to 3 dimensions. */
  readonly workgroupSize: readonly number[];
  /** Other pipeline-overridable constants. */
  readonly constants?: Readonly<Record<string, number>>;
  /** Binding kinds, in binding order. */
  readonly bindings: readonly BindingKind[];
}

/** A contiguous run of elements of a GPU buffer, as a kernel binds it. */
export interface GpuView {
  /** The buffer. */
  readonly buffer: GPUBuffer;
  /** Offset in bytes; a multiple of the device's `minStorageBufferOffsetAlignment` (256). */
  readonly offset: number;
  /** Number of 4-byte elements. */
  readonly length: number;
}

/** A dispatch ready to encode: pipeline, bound resources and grid. */
export interface Dispatch {
  /** The kernel. */
  readonly spec: KernelSpec;
  /** The compiled pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Resources bound to group 0. */
  readonly bindGroup: GPUBindGroup;
  /** Number of workgroups in x, y, z. */
  readonly workgroups: readonly [number, number, number];
  /** The uniform buffer (from the pool), when the kernel has one; see {@link writeUniforms}. */
  readonly uniform?: GPUBuffer;
}

/** A typed scalar of a uniform struct. */
export type UniformField = { readonly u32: number } | { readonly i32: number } | {
  readonly f32: number;
};

/**
 * Packs scalar uniform fields in order (each 4 bytes, as a WGSL struct of scalars lays them
 * out), padded to a multiple of 16 bytes.
 * @example
 * ```ts
 * const data = packUniforms([{ u32: 7 }, { f32: 0.5 }]);
 * ```
 */
export function packUniforms(fields: readonly UniformField[]): ArrayBuffer {
  const bytes = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  fields.forEach((f, i) => {
    if ("u32" in f) {
      if (!Number.isInteger(f.u32) || f.u32 < 0 || f.u32 > 0xffffffff) {
        throw new RangeError(`uniform field ${i}: ${f.u32} is not a u32`);
      }
      view.setUint32(i * 4, f.u32, true);
    } else if ("i32" in f) view.setInt32(i * 4, f.i32, true);
    else view.setFloat32(i * 4, f.f32, true);
  });
  return buffer;
}

/**
 * Rewrites a prepared dispatch's uniforms (queue-ordered: takes effect for work submitted
 * after this call).
 * @example
 * ```ts
 * import { dropoutForward, dropoutUniforms } from "../ops/dropout.ts";
 * import { tryGetGpu } from "./context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array(8).fill(1)), y = gpu.storage(8);
 *   const d = dropoutForward(gpu, x, y, { length: 8, p: 0.5, seed: 1 }); // prepared once
 *   for (const seed of [2, 3]) {
 *     writeUniforms(gpu.device, d, dropoutUniforms({ length: 8, p: 0.5, seed })); // a new mask
 *     await gpu.run([d]);
 *   }
 * }
 * ```
 */
export function writeUniforms(
  device: GPUDevice,
  dispatch: Dispatch,
  fields: readonly UniformField[],
): void {
  if (!dispatch.uniform) throw new Error(`${dispatch.spec.name} has no uniform binding`);
  device.queue.writeBuffer(dispatch.uniform, 0, packUniforms(fields));
}

/**
 * Number of workgroups needed to cover `n` items with `perGroup` items per group.
 * @example
 * ```ts
 * groups(1000, 64); // 16
 * ```
 */
export function groups(n: number, perGroup: number): number {
  return Math.max(1, Math.ceil(n / perGroup));
}
