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

/**
 * Compiles each (kernel, constants) pair once.
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
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, CompiledKernel>();

  /** @param device the device pipelines are compiled for */
  constructor(device: GPUDevice) {
    this.#device = device;
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

  #compile(spec: KernelSpec, constants: Record<string, number>): CompiledKernel {
    const device = this.#device;
    // Compilation and validation errors reach GpuContext's uncaptured-error handler and are
    // thrown, with this label, at the next submit or read.
    const layout = device.createBindGroupLayout({
      label: spec.name,
      entries: spec.bindings.map((kind, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        ...LAYOUT[kind],
      })),
    });
    const pipeline = device.createComputePipeline({
      label: spec.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.#module(spec), entryPoint: spec.entryPoint, constants },
    });
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
