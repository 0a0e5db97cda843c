/**
 * Kernels described as data: a WGSL entry point with its contract (the uniform struct's fields
 * and the bindings, by name, with their types), and prepared dispatches built from records keyed
 * by those names: a pipeline, a bind group and a grid, built once and encoded as often as needed,
 * so many dispatches go into one command encoder and the host reads back rarely.
 *
 * @module
 */

/** What the logs say about the GPU in use. */
export interface GpuInfo {
  /** Adapter description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` or `NVIDIA H100`. */
  name: string;
  /**
   * The backend asked for through `DENO_WEBGPU_BACKEND` (`vulkan`, `gl`, …; set to `vulkan` by
   * `GpuContext.create` where a Vulkan driver is installed and the user chose none), `gl`
   * on Linux without a Vulkan driver (the only backend wgpu can start there), else `auto`.
   */
  backend: string;
  /** True for a software (fallback) adapter such as Mesa's llvmpipe. */
  isFallback: boolean;
  /**
   * True for a software adapter on wgpu's GL backend: the slowest path, where Mesa's Vulkan
   * driver would be faster.
   */
  softwareGl: boolean;
  /**
   * Invocations per subgroup when kernels may use subgroup operations (the device has WebGPU's
   * `subgroups` feature and its subgroups hold at least 8 invocations), else 0. llvmpipe: 8 with
   * AVX2 vectors, 16 with AVX-512 (`preferWideSoftwareVectors`).
   */
  subgroupSize: number;
}

/** The type of a uniform struct field: every field is a 4-byte scalar. */
export type ScalarType = "u32" | "i32" | "f32";

/**
 * How a kernel declares one binding in its WGSL: `read` is `var<storage, read>`, `read_write`
 * `var<storage, read_write>`, `read-texture` a `texture_storage_2d<rgba32float, read>`,
 * `write-texture` a `texture_storage_2d<rgba32float, write>`.
 */
export type BindingKind = "read" | "read_write" | "read-texture" | "write-texture";

/**
 * A value that is the same on every device, or chosen from the device's {@link GpuInfo}: the one
 * way a kernel picks its variant for a device (a library, a workgroup size).
 */
export type PerDevice<T> = T | ((info: GpuInfo) => T);

/**
 * A compute kernel described as data: where its WGSL is, and its contract, which the pipeline
 * cache checks against the WGSL when it first compiles the kernel (field names, order and types
 * of the uniform struct; binding names, address spaces and access; override constants), throwing
 * a {@link KernelContractError} that names the kernel and the field.
 *
 * The workgroup size reaches the WGSL as the pipeline-overridable constants `WG_X` (and `WG_Y`,
 * `WG_Z` for 2-D and 3-D sizes), which the kernel declares with `override`; `constants` adds other
 * true compile-time constants. Shapes never go here: they travel as uniforms, so one pipeline
 * serves every size.
 *
 * @example
 * ```ts
 * const spec: KernelSpec = {
 *   name: "gelu_forward",
 *   file: "gelu.wgsl",
 *   libraries: ["grid.wgsl"],
 *   entryPoint: "gelu_forward",
 *   workgroupSize: [256],
 *   uniforms: { length: "u32" }, // struct Shape { length: u32 } in the WGSL
 *   bindings: { x: "read", y: "read_write" }, // var<storage, read> x, var<storage, read_write> y
 * };
 * ```
 */
export interface KernelSpec {
  /** Unique name, the pipeline cache key together with the constants. */
  readonly name: string;
  /** File under `kernels/`. */
  readonly file: string;
  /**
   * Other files under `kernels/`, appended to `file` in order (WGSL has no include): helpers that
   * several kernels share, and functions that come in variants for different devices.
   */
  readonly libraries?: readonly PerDevice<string>[];
  /** WGSL entry point. */
  readonly entryPoint: string;
  /** Workgroup size, 1 to 3 dimensions. */
  readonly workgroupSize: PerDevice<readonly number[]>;
  /** Other pipeline-overridable constants. */
  readonly constants?: Readonly<Record<string, number>>;
  /**
   * The fields of the uniform struct the entry point reads, in the WGSL struct's order; absent
   * when it reads none.
   */
  readonly uniforms?: Readonly<Record<string, ScalarType>>;
  /** Every other binding the entry point uses, by its WGSL variable name. */
  readonly bindings: Readonly<Record<string, BindingKind>>;
}

/** Thrown when a kernel's contract and its WGSL disagree, or a dispatch's records and the contract. */
export class KernelContractError extends Error {
  /** @param message names the kernel, the field and both sides */
  constructor(message: string) {
    super(message);
    this.name = "KernelContractError";
  }
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

/** Uniform values by field name, as a {@link KernelSpec}'s `uniforms` declares them. */
export type UniformValues = Readonly<Record<string, number>>;

/** What a dispatch binds, by the names its {@link KernelSpec} declares. */
export interface DispatchInputs {
  /** A value for every uniform field (omitted when the kernel declares none). */
  readonly uniforms?: UniformValues;
  /** A buffer view, or a texture view for a texture binding, for every binding. */
  readonly bindings: Readonly<Record<string, GpuView | GPUTextureView>>;
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
  /** The uniform buffer (from the pool), when the kernel has one. */
  readonly uniform?: GPUBuffer;
  /** The uniform values and bindings it was prepared with (see `GpuContext.record`). */
  readonly inputs?: DispatchInputs;
  /** For a dispatch of {@link DispatchRecords}: its records, and which one it runs with. */
  readonly record?: { readonly of: DispatchRecords; readonly index: number };
  /** Offset of that record in the records' uniform buffer. */
  readonly dynamicOffset?: number;
}

/**
 * One prepared dispatch with several records of uniform values (made by `GpuContext.record`):
 * {@link write} fills a record, {@link at} is the dispatch that runs with it. Writes are
 * queue-ordered: a record rewritten after a submit does not change the work already submitted.
 */
export class DispatchRecords {
  /** Number of records. */
  readonly count: number;
  readonly #device: GPUDevice;
  readonly #base: Dispatch;
  readonly #buffer: GPUBuffer;
  readonly #stride: number;

  /**
   * Use `GpuContext.record`.
   * @param base the dispatch, bound to the records' buffer with a dynamic offset
   * @param stride bytes from one record to the next (the device's uniform offset alignment)
   */
  constructor(device: GPUDevice, base: Dispatch, buffer: GPUBuffer, stride: number, count: number) {
    this.#device = device;
    this.#base = base;
    this.#buffer = buffer;
    this.#stride = stride;
    this.count = count;
  }

  /**
   * Writes record `index`: the values the dispatch was prepared with, with `changes` (fields by
   * name) over them.
   */
  write(index: number, changes: UniformValues): void {
    this.#check(index);
    const data = packUniforms(this.#base.spec, { ...this.#base.inputs?.uniforms, ...changes });
    this.#device.queue.writeBuffer(this.#buffer, index * this.#stride, data);
  }

  /** The dispatch that runs with record `index`. */
  at(index: number): Dispatch {
    this.#check(index);
    return { ...this.#base, record: { of: this, index }, dynamicOffset: index * this.#stride };
  }

  #check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new RangeError(`${this.#base.spec.name}: record ${index} outside 0..${this.count - 1}`);
    }
  }
}

/**
 * `commands` with every dispatch of {@link DispatchRecords} switched to record `index`; other
 * commands as they are.
 * @example
 * ```ts
 * atRecord([{ clear: { buffer: {} as GPUBuffer, offset: 0, length: 4 } }], 1).length; // 1
 * ```
 */
export function atRecord<C extends object>(commands: readonly C[], index: number): C[] {
  return commands.map((c) => {
    const record = (c as Partial<Dispatch>).record;
    return record ? record.of.at(index) as unknown as C : c;
  });
}

/**
 * `value` on the device `info` describes: the value itself, or what its function returns.
 * @example
 * ```ts
 * import { WORKGROUP_SUM } from "../ops/workgroup_sum.ts";
 * const info = { name: "llvmpipe", backend: "gl", isFallback: true, softwareGl: true, subgroupSize: 0 };
 * forDevice(WORKGROUP_SUM, info); // "workgroup_sum_shared.wgsl"
 * forDevice([64], info); // [64]
 * ```
 */
export function forDevice<T>(value: PerDevice<T>, info: GpuInfo): T {
  return typeof value === "function" ? (value as (info: GpuInfo) => T)(info) : value;
}

/**
 * Bytes of a kernel's uniform struct: 4 per field, padded to a multiple of 16.
 * @example
 * ```ts
 * const spec: KernelSpec = {
 *   name: "demo",
 *   file: "demo.wgsl",
 *   entryPoint: "demo",
 *   workgroupSize: [64],
 *   uniforms: { n: "u32", weight: "f32", rows: "u32", cols: "u32", eps: "f32" },
 *   bindings: {},
 * };
 * uniformBytes(spec); // 32
 * ```
 */
export function uniformBytes(spec: KernelSpec): number {
  const fields = Object.keys(spec.uniforms ?? {}).length;
  return Math.max(16, Math.ceil((fields * 4) / 16) * 16);
}

/**
 * Packs uniform values by name in the order `spec.uniforms` declares them (each a 4-byte scalar,
 * as a WGSL struct of scalars lays them out), padded to a multiple of 16 bytes. Throws a
 * {@link KernelContractError} naming the kernel and the field for a missing or undeclared field,
 * or a value its type cannot hold.
 * @example
 * ```ts
 * const spec: KernelSpec = {
 *   name: "demo",
 *   file: "demo.wgsl",
 *   entryPoint: "demo",
 *   workgroupSize: [64],
 *   uniforms: { n: "u32", weight: "f32" },
 *   bindings: {},
 * };
 * packUniforms(spec, { n: 7, weight: 0.5 }).byteLength; // 16
 * ```
 */
export function packUniforms(spec: KernelSpec, values: UniformValues): ArrayBuffer {
  const fields = Object.entries(spec.uniforms ?? {});
  for (const name of Object.keys(values)) {
    if (!spec.uniforms || !(name in spec.uniforms)) {
      throw new KernelContractError(
        `kernel ${spec.name}: uniform "${name}" is not declared (fields: ${
          fields.map(([f]) => f).join(", ") || "none"
        })`,
      );
    }
  }
  const buffer = new ArrayBuffer(uniformBytes(spec));
  const view = new DataView(buffer);
  fields.forEach(([name, type], i) => {
    const v = values[name];
    const bad = (what: string) =>
      new KernelContractError(`kernel ${spec.name}: uniform "${name}" (${type}) ${what}`);
    if (v === undefined) throw bad("has no value");
    if (type === "f32") view.setFloat32(i * 4, v, true);
    else if (!Number.isInteger(v)) throw bad(`is ${v}, not an integer`);
    else if (type === "u32") {
      if (v < 0 || v > 0xffffffff) throw bad(`is ${v}, outside 0..2^32-1`);
      view.setUint32(i * 4, v, true);
    } else {
      if (v < -0x80000000 || v > 0x7fffffff) throw bad(`is ${v}, outside -2^31..2^31-1`);
      view.setInt32(i * 4, v, true);
    }
  });
  return buffer;
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
