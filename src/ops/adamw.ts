/**
 * AdamW with global gradient-norm clipping in one dispatch over a flat parameter buffer
 * (`kernels/adamw.wgsl`), as PyTorch 1.13's `clip_grad_norm_` + `AdamW` (non-fused); twin in
 * `src/reference/adamw.ts`. The norm comes from {@link gradNorm} in the same command encoder.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec, UniformValues } from "../gpu/kernel.ts";
import { adamwConstants, type AdamWOptions } from "../reference/adamw.ts";
import { GRID_LIBRARY } from "./grid.ts";
import { checkLength, quadDispatch } from "./shapes.ts";

export type { AdamWOptions } from "../reference/adamw.ts";

const WG = 256;

/** `adamw_update`: updates params, m, v in place from grads and grad_norm (1 element). */
export const ADAMW_UPDATE: KernelSpec = {
  name: "adamw_update",
  file: "adamw.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "adamw_update",
  workgroupSize: [WG],
  uniforms: {
    length: "u32",
    decay_end: "u32",
    decay: "f32",
    beta1: "f32",
    one_minus_beta1: "f32",
    beta2: "f32",
    one_minus_beta2: "f32",
    eps: "f32",
    step_size: "f32",
    bc2_sqrt: "f32",
    max_norm: "f32",
  },
  bindings: {
    params: "read_write",
    grads: "read",
    m: "read_write",
    v: "read_write",
    grad_norm: "read",
  },
};

/**
 * The uniforms of an AdamW dispatch for one step. A training loop prepares the dispatch once and
 * rewrites them every step (new `step`, scheduled `lr`):
 * `gpu.writeUniforms(update, adamwUniforms(opts))`, with the `length` it was prepared for.
 * @example
 * ```ts
 * adamwUniforms({
 *   length: 1024, lr: 1e-4, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2, step: 1,
 *   decayEnd: 1000, maxNorm: 1,
 * }); // { length: 1024, decay_end: 1000, decay: 0.99998, …, step_size: 1e-3, … }
 * ```
 */
export function adamwUniforms(opts: AdamWOptions): UniformValues {
  const { decay, stepSize, bc2Sqrt } = adamwConstants("adamw", opts);
  return {
    length: opts.length,
    decay_end: opts.decayEnd,
    decay,
    beta1: opts.beta1,
    one_minus_beta1: 1 - opts.beta1,
    beta2: opts.beta2,
    one_minus_beta2: 1 - opts.beta2,
    eps: opts.eps,
    step_size: stepSize,
    bc2_sqrt: bc2Sqrt,
    max_norm: opts.maxNorm,
  };
}

/**
 * Prepares one AdamW step with clipping by `gradNorm[0]` (see the twin for the exact
 * semantics); updates `params`, `m`, `v` in place and leaves `grads` unmodified.
 * @example
 * ```ts
 * import { gradNorm } from "./grad_norm.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const n = 4;
 *   const params = gpu.storage(new Float32Array([1, 1, 1, 1]));
 *   const grads = gpu.storage(new Float32Array([3, 4, 0, 0])); // norm 5, clipped to 1
 *   const m = gpu.storage(n), v = gpu.storage(n), norm = gpu.storage(1);
 *   const opts = { length: n, lr: 0.1, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2,
 *     step: 1, decayEnd: 2, maxNorm: 1 }; // the first 2 elements are weights (decayed)
 *   const update = adamwUpdate(gpu, params, grads, m, v, norm, opts);
 *   await gpu.run([...gradNorm(gpu, grads, norm, { length: n }), ...update]);
 *   await gpu.read(params); // ≈ [0.88, 0.88, 1, 1]: decay by lr·wd, then a first step of lr
 * }
 * ```
 */
export function adamwUpdate(
  gpu: GpuContext,
  params: GpuView,
  grads: GpuView,
  m: GpuView,
  v: GpuView,
  gradNorm: GpuView,
  opts: AdamWOptions,
): Command[] {
  const { length } = opts;
  checkLength("adamw", {
    params: [params, length],
    grads: [grads, length],
    m: [m, length],
    v: [v, length],
    gradNorm: [gradNorm, 1],
  });
  const { views, grid } = quadDispatch(gpu, "adamw", { params, grads, m, v }, length, WG);
  const bindings = { ...views, grad_norm: gradNorm };
  return [gpu.prepare(ADAMW_UPDATE, { uniforms: adamwUniforms(opts), bindings }, grid)];
}
