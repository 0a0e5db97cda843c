/**
 * One cache of compiled compute pipelines, keyed by kernel name, WGSL sources and compile-time
 * constants. A kernel's contract is checked against its WGSL when it is first compiled.
 *
 * @module
 */

import { type BindingKind, forDevice, type GpuInfo, type KernelSpec } from "./kernel.ts";
import {
  type BindingSlots,
  checkContract,
  parseWgsl,
  type WgslInterface,
} from "./wgsl_contract.ts";

/** The folder of the WGSL kernels. */
export const KERNEL_DIR: URL = new URL("../../kernels/", import.meta.url);

const LAYOUT: Record<BindingKind, Omit<GPUBindGroupLayoutEntry, "binding" | "visibility">> = {
  read: { buffer: { type: "read-only-storage" } },
  read_write: { buffer: { type: "storage" } },
  "read-texture": { storageTexture: { access: "read-only", format: "rgba32float" } },
  "write-texture": { storageTexture: { access: "write-only", format: "rgba32float" } },
};

/**
 * Returns the WGSL text of one file of `kernels/` by its name (e.g. `gelu.wgsl`): Deno reads the
 * folder ({@link readKernelFile}); a page gives the sources it fetched.
 */
export type KernelReader = (file: string) => string;

/** A compiled pipeline, the layout its bind groups use and where each binding goes. */
export interface CompiledKernel {
  /** The pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Layout of bind group 0. */
  readonly layout: GPUBindGroupLayout;
  /** Binding numbers of the uniform struct and of each named binding. */
  readonly slots: BindingSlots;
}

/** Thrown when a kernel's pipeline fails to build; names the kernel, backend and adapter. */
export class PipelineBuildError extends Error {
  /** @param message what failed, where, and the driver's words */
  constructor(message: string) {
    super(message);
    this.name = "PipelineBuildError";
  }
}

/**
 * Compiles each (kernel, constants) pair once, with the libraries and workgroup size the kernel
 * chooses for this device, after checking its contract against the WGSL (a
 * {@link KernelContractError} names the kernel and the field). Pipelines are created
 * synchronously, so that dispatches can be prepared without awaiting; a failed build is found by
 * {@link check}.
 * @example
 * ```ts
 * import { GELU_FORWARD } from "../ops/gelu.ts";
 * import { tryGetGpu } from "./context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const { pipeline } = gpu.pipelines.get(GELU_FORWARD); // compiles kernels/gelu.wgsl
 *   gpu.pipelines.get(GELU_FORWARD).pipeline === pipeline; // true: compiled once
 * }
 * ```
 */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #info: GpuInfo;
  readonly #where: string;
  readonly #read: KernelReader;
  #builds: Promise<string | null>[] = [];
  readonly #sources = new Map<string, { code: string; wgsl: WgslInterface }>();
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, CompiledKernel>();

  /**
   * @param device the device pipelines are compiled for
   * @param info the device's info, from which kernels choose their variants
   * @param where the backend and adapter, as build errors name them (e.g. `backend gl, adapter
   * llvmpipe (LLVM 15.0.6, 256 bits)`)
   * @param read where the WGSL comes from (default: the `kernels/` folder beside this module)
   */
  constructor(
    device: GPUDevice,
    info: GpuInfo,
    where = "this device",
    read: KernelReader = readKernelFile,
  ) {
    this.#device = device;
    this.#info = info;
    this.#where = where;
    this.#read = read;
  }

  /** Number of compiled pipelines. */
  get size(): number {
    return this.#pipelines.size;
  }

  /**
   * The compiled kernel for `spec` on this device, compiling it on first use; `recorded` gives
   * its uniform binding a dynamic offset (see `GpuContext.record`).
   */
  get(spec: KernelSpec, recorded = false): CompiledKernel {
    const { files, constants } = resolveKernel(spec, this.#info);
    const key = [
      spec.name,
      `${files.join("+")}:${spec.entryPoint}`,
      JSON.stringify(constants),
      JSON.stringify(spec.uniforms ?? null),
      JSON.stringify(spec.bindings),
      recorded ? "recorded" : "",
    ].join("|");
    let compiled = this.#pipelines.get(key);
    if (!compiled) {
      compiled = this.#compile(spec, files, constants, recorded);
      this.#pipelines.set(key, compiled);
    }
    return compiled;
  }

  /** The concatenated WGSL of `files` and its interface. */
  #source(files: readonly string[]): { code: string; wgsl: WgslInterface } {
    const key = files.join("+");
    let source = this.#sources.get(key);
    if (!source) {
      const code = kernelSource(files, this.#read);
      source = { code, wgsl: parseWgsl(code) };
      this.#sources.set(key, source);
    }
    return source;
  }

  /** The shader module of `files` (call inside the error scopes of a build). */
  #module(files: readonly string[]): GPUShaderModule {
    const key = files.join("+");
    let module = this.#modules.get(key);
    if (!module) {
      module = this.#device.createShaderModule({ label: key, code: this.#source(files).code });
      this.#modules.set(key, module);
    }
    return module;
  }

  /**
   * Throws a {@link PipelineBuildError} for every pipeline built since the last call that failed
   * (a WGSL error, or a backend's compiler rejecting naga's translation, as Mesa's GLSL compiler
   * can). {@link GpuContext.run} and reads call it before they submit.
   */
  async check(): Promise<void> {
    if (this.#builds.length === 0) return;
    const failed = (await Promise.all(this.#builds.splice(0))).filter((m) => m !== null);
    if (failed.length > 0) throw new PipelineBuildError(failed.join("\n"));
  }

  #compile(
    spec: KernelSpec,
    files: readonly string[],
    constants: Readonly<Record<string, number>>,
    recorded: boolean,
  ): CompiledKernel {
    const device = this.#device;
    const slots = checkContract(spec, this.#source(files).wgsl, files, constants);
    const entries: GPUBindGroupLayoutEntry[] = [...slots.bindings].map(([name, binding]) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      ...LAYOUT[spec.bindings[name]],
    }));
    if (slots.uniform !== null) {
      entries.push({
        binding: slots.uniform,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: recorded },
      });
    }
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    const layout = device.createBindGroupLayout({ label: spec.name, entries });
    const descriptor: GPUComputePipelineDescriptor = {
      label: spec.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.#module(files), entryPoint: spec.entryPoint, constants },
    };
    const pipeline = device.createComputePipeline(descriptor);
    const internal = device.popErrorScope(), validation = device.popErrorScope();
    this.#builds.push(
      Promise.all([internal, validation]).then(async ([i, v]) => {
        if (!i && !v) return null;
        // Deno's synchronous errors may come without the compiler's message: WGSL errors are in
        // the module's compilation info, a backend compiler's in the asynchronous build's error.
        const wgsl = (await descriptor.compute.module.getCompilationInfo()).messages
          .filter((m) => m.type === "error")
          .map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
        const reason = wgsl.length > 0 ? wgsl.join("; ") : await device
          .createComputePipelineAsync(descriptor).then(
            () => (i ?? v)?.message || "no message from the driver",
            (e: Error) => e.message.trim(),
          );
        return `kernel ${spec.name} (kernels/${files.join(" + ")}, entry point ` +
          `${spec.entryPoint}) failed to build on ${this.#where}: ${reason}`;
      }),
    );
    return { pipeline, layout, slots };
  }
}

/** A kernel as compiled for one device: its WGSL files and its override constants. */
export interface ResolvedKernel {
  /** `spec.file`, then its libraries for the device. */
  readonly files: readonly string[];
  /** `WG_X` (`WG_Y`, `WG_Z`) from the workgroup size for the device, and `spec.constants`. */
  readonly constants: Readonly<Record<string, number>>;
}

/**
 * The files and constants of `spec` on the device `info` describes.
 * @example
 * ```ts
 * import { L2NORM_FORWARD } from "../ops/l2norm.ts";
 * const info = { name: "llvmpipe", backend: "gl", isFallback: true, softwareGl: true, subgroupSize: 0 };
 * resolveKernel(L2NORM_FORWARD, info);
 * // { files: ["l2norm.wgsl", "workgroup_sum_shared.wgsl"], constants: { WG_X: 64 } }
 * ```
 */
export function resolveKernel(spec: KernelSpec, info: GpuInfo): ResolvedKernel {
  const names = ["WG_X", "WG_Y", "WG_Z"];
  const constants: Record<string, number> = {};
  forDevice(spec.workgroupSize, info).forEach((n, i) => constants[names[i]] = n);
  return {
    files: [spec.file, ...(spec.libraries ?? []).map((l) => forDevice(l, info))],
    constants: { ...constants, ...spec.constants },
  };
}

/**
 * The WGSL of `files`, concatenated in order (WGSL has no include), each read by `read`.
 * @example
 * ```ts
 * kernelSource(["gelu.wgsl", "grid.wgsl"]).includes("fn flat_index"); // true
 * ```
 */
export function kernelSource(
  files: readonly string[],
  read: KernelReader = readKernelFile,
): string {
  return files.map(read).join("\n");
}

/**
 * The text of `kernels/<file>`, read from the folder beside this module (Deno only).
 * @example
 * ```ts
 * readKernelFile("gelu.wgsl").includes("fn gelu_forward"); // true
 * ```
 */
export function readKernelFile(file: string): string {
  const url = new URL(file, KERNEL_DIR);
  if (url.protocol !== "file:") {
    throw new Error(`kernel ${file}: WGSL sources must be local files, got ${url.href}`);
  }
  return Deno.readTextFileSync(url);
}
