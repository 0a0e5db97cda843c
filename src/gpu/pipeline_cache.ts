/**
 * One cache of compiled compute pipelines, keyed by kernel name and compile-time constants.
 *
 * @module
 */

import type { BindingKind, KernelSpec } from "./kernel.ts";

const KERNEL_DIR = new URL("../../kernels/", import.meta.url);

const LAYOUT: Record<BindingKind, Omit<GPUBindGroupLayoutEntry, "binding" | "visibility">> = {
  uniform: { buffer: { type: "uniform" } },
  read: { buffer: { type: "read-only-storage" } },
  write: { buffer: { type: "storage" } },
  "read-texture": { storageTexture: { access: "read-only", format: "rgba32float" } },
  "storage-texture": { storageTexture: { access: "write-only", format: "rgba32float" } },
};

/** A compiled pipeline and the layout its bind groups use. */
export interface CompiledKernel {
  /** The pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Layout of bind group 0. */
  readonly layout: GPUBindGroupLayout;
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
 * Compiles each (kernel, constants) pair once. Pipelines are created synchronously, so that
 * dispatches can be prepared without awaiting; a failed build is found by {@link check}.
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
  readonly #where: string;
  #builds: Promise<string | null>[] = [];
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, CompiledKernel>();

  /**
   * @param device the device pipelines are compiled for
   * @param where the backend and adapter, as build errors name them (e.g. `backend gl, adapter
   * llvmpipe (LLVM 15.0.6, 256 bits)`)
   */
  constructor(device: GPUDevice, where = "this device") {
    this.#device = device;
    this.#where = where;
  }

  /** Number of compiled pipelines. */
  get size(): number {
    return this.#pipelines.size;
  }

  /** The compiled kernel for `spec`, compiling it on first use. */
  get(spec: KernelSpec): CompiledKernel {
    const constants = overrideConstants(spec);
    const key = `${spec.name}|${sourceKey(spec)}:${spec.entryPoint}|${JSON.stringify(constants)}|${
      spec.bindings.join(",")
    }`;
    let compiled = this.#pipelines.get(key);
    if (!compiled) {
      compiled = this.#compile(spec, constants);
      this.#pipelines.set(key, compiled);
    }
    return compiled;
  }

  #module(spec: KernelSpec): GPUShaderModule {
    const key = sourceKey(spec);
    let module = this.#modules.get(key);
    if (!module) {
      const files = spec.library ? [spec.file, spec.library] : [spec.file];
      const code = files.map(readKernel).join("\n");
      module = this.#device.createShaderModule({ label: key, code });
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

  #compile(spec: KernelSpec, constants: Record<string, number>): CompiledKernel {
    const device = this.#device;
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    const layout = device.createBindGroupLayout({
      label: spec.name,
      entries: spec.bindings.map((kind, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        ...LAYOUT[kind],
      })),
    });
    const descriptor: GPUComputePipelineDescriptor = {
      label: spec.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.#module(spec), entryPoint: spec.entryPoint, constants },
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
        return `kernel ${spec.name} (kernels/${sourceKey(spec)}, entry point ${spec.entryPoint}) ` +
          `failed to build on ${this.#where}: ${reason}`;
      }),
    );
    return { pipeline, layout };
  }
}

/** The WGSL source of a kernel: its file, plus its library when it has one. */
function sourceKey(spec: KernelSpec): string {
  return spec.library ? `${spec.file}+${spec.library}` : spec.file;
}

function readKernel(file: string): string {
  const url = new URL(file, KERNEL_DIR);
  if (url.protocol !== "file:") {
    throw new Error(`kernel ${file}: WGSL sources must be local files, got ${url.href}`);
  }
  return Deno.readTextFileSync(url);
}

function overrideConstants(spec: KernelSpec): Record<string, number> {
  const names = ["WG_X", "WG_Y", "WG_Z"];
  const constants: Record<string, number> = {};
  spec.workgroupSize.forEach((n, i) => constants[names[i]] = n);
  return { ...constants, ...spec.constants };
}
