/**
 * The one WebGPU context of a process: adapter, device with the adapter's real limits, a
 * pipeline cache, a buffer pool, and the error plumbing that turns WebGPU validation errors into
 * exceptions.
 *
 * @module
 */

import { BACKEND_VARIABLE, preferVulkanBackend, vulkanDriverManifests } from "./backend.ts";
import { BufferPool } from "./buffer_pool.ts";
import type {
  Dispatch,
  DispatchInputs,
  GpuInfo,
  GpuView,
  KernelSpec,
  UniformValues,
} from "./kernel.ts";
import { DispatchRecords, KernelContractError, packUniforms, uniformBytes } from "./kernel.ts";
import { type CompiledKernel, type KernelReader, PipelineCache } from "./pipeline_cache.ts";
import { providePrivateRuntimeDir } from "./runtime_dir.ts";
import { preferWideSoftwareVectors } from "./software_vectors.ts";

export type { GpuInfo } from "./kernel.ts";

/** Usage of the storage buffers this context creates: bindable as storage, copyable both ways. */
const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * A command of an encoded sequence: a dispatch, zero-filling a view (e.g. gradients), a copy
 * between views of equal length (offsets need only be multiples of 4 bytes, unlike bindings), or
 * an upload of buffer rows into a texture.
 */
export type Command =
  | Dispatch
  | { readonly clear: GpuView }
  | { readonly copy: { readonly src: GpuView; readonly dst: GpuView } }
  | { readonly upload: TextureUpload };

/**
 * A copy of rows of a buffer into the top-left corner of a texture: `height` rows of `width`
 * texels, the first at byte `offset` of `buffer`, one every `bytesPerRow` bytes (a multiple of
 * 256).
 */
export interface TextureUpload {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly bytesPerRow: number;
  readonly texture: GPUTexture;
  readonly width: number;
  readonly height: number;
}

/** A GPU resource an op may allocate: a buffer or a texture. */
export type GPUResource = GPUBuffer | GPUTexture;

/** Typed arrays the context uploads and reads back. */
export type HostArray =
  | Float32Array<ArrayBuffer>
  | Int32Array<ArrayBuffer>
  | Uint32Array<ArrayBuffer>;

/** Options of {@link GpuContext.create}. */
export interface GpuOptions {
  /**
   * Use subgroup operations where the device allows them (default true); false selects the
   * kernels' variants without them (tests run both on the same device).
   */
  subgroups?: boolean;
  /**
   * Where the kernels' WGSL comes from (default: the `kernels/` folder, read by Deno); a page
   * passes the sources it fetched.
   */
  kernels?: KernelReader;
}

/** Thrown when no WebGPU adapter can be found; its message names the fix. */
export class GpuUnavailableError extends Error {
  /** @param detail what was tried */
  constructor(detail: string) {
    super(
      `No WebGPU adapter found (${detail}). On a machine without a GPU install Mesa's software ` +
        `Vulkan driver (Debian/Ubuntu: \`apt-get install mesa-vulkan-drivers\`); ` +
        `DENO_WEBGPU_BACKEND=vulkan or =gl selects the backend.`,
    );
    this.name = "GpuUnavailableError";
  }
}

/** Thrown when WebGPU reports a validation, out-of-memory or internal error. */
export class GpuError extends Error {
  /** @param message WebGPU's message, prefixed with what we were doing */
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}

/**
 * Device, caches and info. Create it once with {@link GpuContext.create} (or share the
 * process-wide one from {@link getGpu}).
 *
 * @example
 * ```ts
 * import { tryGetGpu } from "./context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array([1, 2, 3]));
 *   await gpu.read(x); // [1, 2, 3]
 *   console.log(gpu.info.name); // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
 * }
 * ```
 */
export class GpuContext {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** Adapter name and backend. */
  readonly info: GpuInfo;
  /** Compiled pipelines, keyed by kernel name and constants. */
  readonly pipelines: PipelineCache;
  /** Reusable buffers. */
  readonly pool: BufferPool;
  #uncaptured: string[] = [];
  #collectors: GPUResource[][] = [];

  private constructor(device: GPUDevice, info: GpuInfo, kernels?: KernelReader) {
    this.device = device;
    this.info = info;
    this.pipelines = new PipelineCache(
      device,
      info,
      `backend ${info.backend}, adapter ${info.name}`,
      kernels,
    );
    this.pool = new BufferPool(device);
    device.addEventListener("uncapturederror", (e) => {
      this.#uncaptured.push((e as GPUUncapturedErrorEvent).error.message);
    });
  }

  /**
   * Requests an adapter and a device with the adapter's own limits (not WebGPU's defaults), and
   * the `subgroups` feature when the adapter has it and it is wanted. The first call of a process
   * asks for the Vulkan backend where a Vulkan driver is installed and the user chose none
   * ({@link preferVulkanBackend}), and on a CPU with AVX-512 for llvmpipe's 512-bit vectors
   * ({@link preferWideSoftwareVectors}). In a browser none of that applies: the backend is the
   * browser's (`"browser"`).
   * @throws {GpuUnavailableError} when there is no adapter.
   */
  static async create(options: GpuOptions = {}): Promise<GpuContext> {
    const inDeno = "Deno" in globalThis;
    let chosen: string | null = null, backend = "browser";
    if (inDeno) {
      providePrivateRuntimeDir();
      preferWideSoftwareVectors();
      chosen = preferVulkanBackend();
      backend = Deno.env.get(BACKEND_VARIABLE) ?? (onlyGl() ? "gl" : "auto");
    }
    if (!("gpu" in navigator) || !navigator.gpu) {
      throw new GpuUnavailableError(`this ${inDeno ? "Deno" : "browser"} has no navigator.gpu`);
    }
    const requestAdapter = () =>
      navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    const adapter = await requestAdapter();
    if (!adapter) {
      throw new GpuUnavailableError(
        chosen
          ? `backend ${backend}, chosen because a Vulkan driver is installed`
          : `backend ${backend}`,
      );
    }
    const requiredLimits: Record<string, number> = {};
    for (
      const key of [
        "maxStorageBufferBindingSize",
        "maxBufferSize",
        "maxComputeWorkgroupStorageSize",
        "maxComputeInvocationsPerWorkgroup",
        "maxComputeWorkgroupSizeX",
        "maxComputeWorkgroupSizeY",
        "maxComputeWorkgroupsPerDimension",
        "maxStorageBuffersPerShaderStage",
        "maxTextureDimension2D",
      ] as const
    ) requiredLimits[key] = adapter.limits[key];
    // Kernels that share loads across a workgroup of 8 or 16 need it inside one subgroup.
    // Deno 2.9 leaves `subgroups` out of adapter.features yet grants it, so it is asked for
    // whenever the subgroups are large enough, and a refusal falls back to a plain device.
    const minSubgroup = (adapter.info as { subgroupMinSize?: number }).subgroupMinSize ?? 0;
    const wantSubgroups = (options.subgroups ?? true) && minSubgroup >= 8;
    const requiredFeatures = ["subgroups" as GPUFeatureName];
    let device = wantSubgroups
      ? await adapter.requestDevice({ requiredLimits, requiredFeatures }).catch(() => null)
      : null;
    if (!device) {
      // A refused request may have consumed the adapter: the plain device comes from a fresh one.
      const plain = wantSubgroups ? await requestAdapter() : adapter;
      if (!plain) throw new GpuUnavailableError(`backend ${backend}`);
      device = await plain.requestDevice({ requiredLimits });
    }
    const isFallback = adapter.info.isFallbackAdapter ?? false;
    const info: GpuInfo = {
      // Browsers leave the description empty: vendor and architecture (e.g. google swiftshader).
      name: adapter.info.description ||
        [adapter.info.vendor, adapter.info.architecture].filter(Boolean).join(" ") ||
        "unknown adapter",
      backend,
      isFallback,
      softwareGl: isFallback && backend === "gl",
      subgroupSize: device.features.has("subgroups") ? minSubgroup : 0,
    };
    return new GpuContext(device, info, options.kernels);
  }

  /** Device limits in force. */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /**
   * Runs `fn` inside validation and out-of-memory error scopes and throws the first error.
   * @param what named in the error message
   */
  async scoped<T>(what: string, fn: () => T): Promise<T> {
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    const result = fn();
    const validation = await this.device.popErrorScope();
    const oom = await this.device.popErrorScope();
    const err = validation ?? oom;
    if (err) throw new GpuError(`${what}: ${err.message}`);
    return result;
  }

  /**
   * Runs `fn` and returns what it returned together with every buffer and texture the context
   * created meanwhile (through {@link storage}, {@link buffer}, {@link texture}): the scratch and
   * operand copies that ops allocate when their dispatches are prepared. Destroy them with
   * {@link destroy} once the GPU is done with those dispatches.
   * @example
   * ```ts
   * import { linearForward } from "../ops/linear.ts";
   * import { tryGetGpu } from "./context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const x = gpu.storage(new Float32Array([1, 2]));
   *   const w = gpu.storage(new Float32Array([1, 0, 0, 1]));
   *   const b = gpu.storage(2), y = gpu.storage(2);
   *   const s = { rows: 1, inDim: 2, outDim: 2 };
   *   // linearForward copies x and w into textures: collect returns them with its commands.
   *   const { value: commands, resources } = gpu.collect(() => linearForward(gpu, x, w, b, y, s));
   *   await gpu.run(commands);
   *   gpu.destroy(resources);
   * }
   * ```
   */
  collect<T>(fn: () => T): { value: T; resources: GPUResource[] } {
    const resources: GPUResource[] = [];
    this.#collectors.push(resources);
    try {
      return { value: fn(), resources };
    } finally {
      this.#collectors.pop();
    }
  }

  /** Destroys resources returned by {@link collect}. */
  destroy(resources: readonly GPUResource[]): void {
    for (const r of resources) r.destroy();
  }

  #track<R extends GPUResource>(resource: R): R {
    for (const c of this.#collectors) c.push(resource);
    return resource;
  }

  /** A new buffer (tracked by {@link collect}). */
  buffer(descriptor: GPUBufferDescriptor): GPUBuffer {
    return this.#track(this.device.createBuffer(descriptor));
  }

  /** A new texture (tracked by {@link collect}). */
  texture(descriptor: GPUTextureDescriptor): GPUTexture {
    return this.#track(this.device.createTexture(descriptor));
  }

  /**
   * A new storage buffer holding `data`, or `length` zeros, as a view over the whole buffer.
   * @param label shown in WebGPU error messages
   */
  storage(data: number | HostArray, label?: string): GpuView {
    const length = typeof data === "number" ? data : data.length;
    const buffer = this.buffer({
      size: Math.max(16, Math.ceil((length * 4) / 16) * 16),
      usage: STORAGE_USAGE,
      label,
    });
    if (typeof data !== "number" && length > 0) this.device.queue.writeBuffer(buffer, 0, data);
    return { buffer, offset: 0, length };
  }

  /** Overwrites a view with `data` (queue-ordered). */
  write(view: GpuView, data: HostArray): void {
    if (data.length > view.length) {
      throw new RangeError(`write of ${data.length} elements into a view of ${view.length}`);
    }
    this.device.queue.writeBuffer(view.buffer, view.offset, data);
  }

  /**
   * Prepares a dispatch of `spec` with `workgroups` groups: its uniform struct filled from
   * `inputs.uniforms` and its bindings from `inputs.bindings`, both by the names the spec declares
   * (a texture view for a texture binding). The first dispatch of a kernel compiles it and checks
   * its contract against the WGSL.
   * @throws {KernelContractError} naming the kernel and the field, for a missing or undeclared
   * uniform or binding, or a resource of the wrong kind.
   * @example
   * ```ts
   * import { GELU_FORWARD } from "../ops/gelu.ts";
   * import { tryGetGpu } from "./context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const x = gpu.storage(new Float32Array([-1, 0, 1, 2])), y = gpu.storage(4);
   *   const bindings = { x, y }; // GELU_FORWARD.bindings: { x: "read", y: "read_write" }
   *   await gpu.run([gpu.prepare(GELU_FORWARD, { uniforms: { length: 4 }, bindings }, 1)]);
   *   await gpu.read(y); // ≈ [-0.1587, 0, 0.8413, 1.9545]
   * }
   * ```
   */
  prepare(
    spec: KernelSpec,
    inputs: DispatchInputs,
    workgroups: number | readonly [number, number?, number?],
  ): Dispatch {
    const wg = this.#grid(spec, workgroups);
    if (!spec.uniforms !== !inputs.uniforms) {
      throw contractError(
        spec,
        spec.uniforms ? "uniforms required" : "declares no uniforms, but got some",
      );
    }
    const compiled = this.pipelines.get(spec);
    let uniform: GPUBuffer | undefined;
    let uniformEntry: GPUBufferBinding | null = null;
    if (inputs.uniforms && compiled.slots.uniform !== null) {
      const data = packUniforms(spec, inputs.uniforms);
      uniform = this.pool.acquire(
        data.byteLength,
        GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        "uniforms",
      );
      this.device.queue.writeBuffer(uniform, 0, data);
      uniformEntry = { buffer: uniform, size: data.byteLength };
    }
    const bindGroup = this.#bindGroup(spec, compiled, inputs.bindings, uniformEntry);
    return { spec, pipeline: compiled.pipeline, bindGroup, workgroups: wg, uniform, inputs };
  }

  /**
   * Turns a prepared dispatch into one with `count` records of uniform values, one per step of a
   * chunk of training steps, say: the same pipeline, bindings and grid, each record selected by
   * a dynamic offset ({@link DispatchRecords.at}) and filled by {@link DispatchRecords.write},
   * which changes some fields of the values the dispatch was prepared with. Nothing is prepared
   * per step. The dispatch's own uniform buffer goes back to the pool; the records' buffer is
   * tracked by {@link collect}.
   * @example
   * ```ts
   * import { dropoutForward } from "../ops/dropout.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const x = gpu.storage(new Float32Array(8).fill(1)), y = gpu.storage(8);
   *   const [d] = dropoutForward(gpu, x, y, { length: 8, p: 0.5, seed: 0 });
   *   const masks = gpu.record(d, 2);
   *   masks.write(0, { seed: 1 });
   *   masks.write(1, { seed: 2 });
   *   await gpu.run([masks.at(1)]); // y = x with the mask of seed 2
   * }
   * ```
   */
  record(dispatch: Command, count: number): DispatchRecords {
    if (!isDispatch(dispatch)) throw new Error("record: not a dispatch");
    const { spec, workgroups, inputs } = dispatch;
    if (!spec.uniforms || !inputs?.uniforms) {
      throw contractError(spec, "declares no uniforms to record");
    }
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`${spec.name}: ${count} records; expected an integer >= 1`);
    }
    const compiled = this.pipelines.get(spec, true);
    const size = uniformBytes(spec), align = this.device.limits.minUniformBufferOffsetAlignment;
    const stride = Math.ceil(size / align) * align;
    const buffer = this.buffer({
      size: stride * count,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: `${spec.name} records`,
    });
    const bindGroup = this.#bindGroup(spec, compiled, inputs.bindings, { buffer, size });
    this.recycle([dispatch]);
    const base = { spec, pipeline: compiled.pipeline, bindGroup, workgroups, inputs };
    return new DispatchRecords(this.device, base, buffer, stride, count);
  }

  #grid(
    spec: KernelSpec,
    workgroups: number | readonly [number, number?, number?],
  ): [number, number, number] {
    const grid = typeof workgroups === "number" ? [workgroups] : workgroups;
    const wg: [number, number, number] = [grid[0] ?? 1, grid[1] ?? 1, grid[2] ?? 1];
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (wg.some((n) => !Number.isInteger(n) || n < 1 || n > max)) {
      throw new RangeError(`${spec.name}: workgroup grid ${wg} outside 1..${max}`);
    }
    return wg;
  }

  /** The bind group of `spec`'s named bindings, and of its uniform struct when it has one. */
  #bindGroup(
    spec: KernelSpec,
    compiled: CompiledKernel,
    bindings: DispatchInputs["bindings"],
    uniform: GPUBufferBinding | null,
  ): GPUBindGroup {
    const { layout, slots } = compiled;
    for (const name of Object.keys(bindings)) {
      if (!(name in spec.bindings)) {
        throw contractError(
          spec,
          `binding ${name} is not declared (${Object.keys(spec.bindings).join(", ")})`,
        );
      }
    }
    const entries: GPUBindGroupEntry[] = [];
    if (uniform && slots.uniform !== null) {
      entries.push({ binding: slots.uniform, resource: uniform });
    }
    for (const [name, binding] of slots.bindings) {
      const kind = spec.bindings[name], v = bindings[name];
      if (v === undefined) throw contractError(spec, `binding ${name} (${kind}) has no resource`);
      const isTexture = kind === "read-texture" || kind === "write-texture";
      if (isTexture !== !("buffer" in v)) {
        throw contractError(
          spec,
          `binding ${name} (${kind}) got a ${isTexture ? "buffer" : "texture"}`,
        );
      }
      if (!("buffer" in v)) {
        entries.push({ binding, resource: v });
        continue;
      }
      if (v.length < 1) throw new RangeError(`${spec.name}: binding ${name} is empty`);
      entries.push({
        binding,
        resource: { buffer: v.buffer, offset: v.offset, size: v.length * 4 },
      });
    }
    return this.device.createBindGroup({ label: spec.name, layout, entries });
  }

  /**
   * Rewrites the uniforms of every dispatch among `commands` (queue-ordered: takes effect for work
   * submitted after this call), packed by name as {@link prepare} packs them: prepared once, a
   * dispatch takes new values each step.
   * @throws {KernelContractError} when `commands` hold no dispatch, or one without uniforms.
   * @example
   * ```ts
   * import { dropoutForward, dropoutUniforms } from "../ops/dropout.ts";
   * import { tryGetGpu } from "./context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const x = gpu.storage(new Float32Array(8).fill(1)), y = gpu.storage(8);
   *   const d = dropoutForward(gpu, x, y, { length: 8, p: 0.5, seed: 1 }); // prepared once
   *   for (const seed of [2, 3]) {
   *     gpu.writeUniforms(d, dropoutUniforms({ length: 8, p: 0.5, seed })); // a new mask
   *     await gpu.run(d);
   *   }
   * }
   * ```
   */
  writeUniforms(commands: readonly Command[], values: UniformValues): void {
    const dispatches = commands.filter(isDispatch);
    if (dispatches.length === 0) throw new KernelContractError("writeUniforms: no dispatch");
    for (const d of dispatches) {
      if (!d.uniform) throw new KernelContractError(`kernel ${d.spec.name} has no uniforms`);
      this.device.queue.writeBuffer(d.uniform, 0, packUniforms(d.spec, values));
    }
  }

  /**
   * Returns the uniform buffers of the dispatches among `commands`, which will not be encoded
   * again, to the pool. Call it only once the GPU has finished the work that used them.
   */
  recycle(commands: readonly Command[]): void {
    for (const d of commands.filter(isDispatch)) if (d.uniform) this.pool.release(d.uniform);
  }

  /**
   * Prepares commands with `prepare`, runs them and waits, then frees what was prepared: uniform
   * buffers back to the pool, op scratch and operand copies destroyed. For one-off work such as
   * evaluation; training prepares its step once and reuses it.
   * @example
   * ```ts
   * import { l2normForward } from "../ops/l2norm.ts";
   * import { tryGetGpu } from "./context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const x = gpu.storage(new Float32Array([3, 4])), y = gpu.storage(2), norm = gpu.storage(1);
   *   const shape = { rows: 1, dim: 2, eps: 1e-12 };
   *   await gpu.runOnce(() => l2normForward(gpu, x, y, norm, shape));
   *   await gpu.read(y); // [0.6, 0.8]
   * }
   * ```
   */
  async runOnce(prepare: () => readonly Command[]): Promise<void> {
    const { value: commands, resources } = this.collect(prepare);
    try {
      await this.run(commands);
    } finally {
      this.recycle(commands);
      this.destroy(resources);
    }
  }

  /** Encodes `commands` in order into `encoder` (consecutive dispatches share one pass). */
  encode(encoder: GPUCommandEncoder, commands: readonly Command[]): void {
    let pass: GPUComputePassEncoder | null = null;
    for (const c of commands) {
      if (!isDispatch(c)) {
        pass?.end();
        pass = null;
        if ("clear" in c) encoder.clearBuffer(c.clear.buffer, c.clear.offset, c.clear.length * 4);
        else if ("upload" in c) {
          const { buffer, offset, bytesPerRow, texture, width, height } = c.upload;
          encoder.copyBufferToTexture({ buffer, offset, bytesPerRow }, { texture }, [
            width,
            height,
          ]);
        } else {
          const { src, dst } = c.copy;
          if (src.length !== dst.length) {
            throw new RangeError(`copy of ${src.length} elements into ${dst.length}`);
          }
          encoder.copyBufferToBuffer(
            src.buffer,
            src.offset,
            dst.buffer,
            dst.offset,
            src.length * 4,
          );
        }
        continue;
      }
      pass ??= encoder.beginComputePass();
      pass.setPipeline(c.pipeline);
      if (c.dynamicOffset === undefined) pass.setBindGroup(0, c.bindGroup);
      else pass.setBindGroup(0, c.bindGroup, [c.dynamicOffset]);
      pass.dispatchWorkgroups(c.workgroups[0], c.workgroups[1], c.workgroups[2]);
    }
    pass?.end();
  }

  /** Encodes and submits `commands` without waiting. */
  submit(commands: readonly Command[]): void {
    const encoder = this.device.createCommandEncoder();
    this.encode(encoder, commands);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Submits `commands` and waits until the GPU has finished them; throws WebGPU errors. */
  async run(commands: readonly Command[]): Promise<void> {
    await this.pipelines.check();
    this.submit(commands);
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed("run");
  }

  /**
   * Reads views back as raw bytes in one round trip (one submit, all staging buffers mapped
   * together). A round trip has a large fixed cost on a software adapter, whatever the size: read
   * rarely.
   */
  async readBytes(views: readonly GpuView[]): Promise<ArrayBuffer[]> {
    await this.pipelines.check();
    const encoder = this.device.createCommandEncoder();
    const staging = views.map((v) => {
      const s = this.pool.acquire(v.length * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      encoder.copyBufferToBuffer(v.buffer, v.offset, s, 0, v.length * 4);
      return s;
    });
    this.device.queue.submit([encoder.finish()]);
    await Promise.all(staging.map((s) => s.mapAsync(GPUMapMode.READ)));
    this.throwIfFailed("read");
    return staging.map((s, i) => {
      const out = s.getMappedRange(0, views[i].length * 4).slice(0);
      s.unmap();
      this.pool.release(s);
      return out;
    });
  }

  /** Reads float32 views back in one round trip (see {@link readBytes}). */
  async readMany(views: readonly GpuView[]): Promise<Float32Array<ArrayBuffer>[]> {
    return (await this.readBytes(views)).map((b) => new Float32Array(b));
  }

  /** Reads one float32 view back (see {@link readBytes}). */
  async read(view: GpuView): Promise<Float32Array<ArrayBuffer>> {
    return (await this.readMany([view]))[0];
  }

  /** Throws the first error WebGPU reported outside an error scope since the last check. */
  throwIfFailed(what = "GPU work"): void {
    if (this.#uncaptured.length > 0) {
      const messages = this.#uncaptured.splice(0);
      throw new GpuError(`${what}: ${messages.join("\n")}`);
    }
  }
}

/**
 * True for the dispatches of a command list (the rest are clears, copies and uploads).
 * @example
 * ```ts
 * isDispatch({ clear: { buffer: {} as GPUBuffer, offset: 0, length: 4 } }); // false
 * ```
 */
export function isDispatch(command: Command): command is Dispatch {
  return "pipeline" in command;
}

/** A {@link KernelContractError} naming the kernel. */
function contractError(spec: KernelSpec, what: string): KernelContractError {
  return new KernelContractError(`kernel ${spec.name}: ${what}`);
}

/** Linux without a Vulkan driver, where wgpu can only start its GL backend. */
function onlyGl(): boolean {
  try {
    return Deno.build.os === "linux" && vulkanDriverManifests().length === 0;
  } catch {
    return false; // no permission to look: say nothing
  }
}

/**
 * The one log line about the GPU in use: adapter, backend, subgroups, and on Mesa's software GL
 * adapter the faster path.
 * @example
 * ```ts
 * import { describeGpu } from "./context.ts";
 * const line = describeGpu({
 *   name: "llvmpipe (LLVM 15.0.6, 256 bits)",
 *   backend: "gl",
 *   isFallback: true,
 *   softwareGl: true,
 *   subgroupSize: 0,
 * });
 * console.log(line); // GPU: llvmpipe (…) (backend gl, subgroups off); … mesa-vulkan-drivers …
 * ```
 */
export function describeGpu(info: GpuInfo): string {
  const line = `GPU: ${info.name} (backend ${info.backend}, subgroups ${
    info.subgroupSize || "off"
  })`;
  return info.softwareGl
    ? `${line}; this is Mesa's software GL adapter, the slowest path: ` +
      "`apt-get install mesa-vulkan-drivers` gives the faster software Vulkan one"
    : line;
}

let shared: Promise<GpuContext> | undefined;

/**
 * The process-wide context, created on first use.
 * @example
 * ```ts
 * try {
 *   const gpu = await getGpu(); // the same context on every call
 *   console.log(gpu.info.name, gpu.info.backend);
 * } catch (e) {
 *   if (!(e instanceof GpuUnavailableError)) throw e;
 *   console.error(e.message); // names the driver to install
 * }
 * ```
 */
export function getGpu(): Promise<GpuContext> {
  shared ??= GpuContext.create();
  return shared;
}

/**
 * The process-wide context, or `null` when no adapter exists (for tests and tools that can
 * run without a GPU).
 * @example
 * ```ts
 * const gpu = await tryGetGpu();
 * if (!gpu) console.log("no GPU");
 * ```
 */
export async function tryGetGpu(): Promise<GpuContext | null> {
  try {
    return await getGpu();
  } catch (e) {
    if (e instanceof GpuUnavailableError) return null;
    throw e;
  }
}
