/**
 * Binary cross-entropy with logits on the GPU (`kernels/bce.wgsl`), numerically stable, mean
 * over `n`; labels are i32 0/1. Twin in `src/reference/bce.ts`.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import { type Dispatch, type GpuView, groups, type KernelSpec } from "../gpu/kernel.ts";
import type { BceBackwardShape, BceShape } from "../reference/bce.ts";
import { checkLength } from "./shapes.ts";
import { withWorkgroupSum, WORKGROUP_SUM_LIBRARY } from "./workgroup_sum.ts";

export type { BceBackwardShape, BceShape } from "../reference/bce.ts";

const WG = 64;

/** `bce_forward`: uniform, logits, labels (i32), out. One workgroup. */
export const BCE_FORWARD: KernelSpec = {
  name: "bce_forward",
  file: "bce.wgsl",
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "bce_forward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "write"],
};

/** `bce_backward`: uniform, logits, labels (i32), dlogits (accumulated). */
export const BCE_BACKWARD: KernelSpec = {
  name: "bce_backward",
  file: "bce.wgsl",
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "bce_backward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "write"],
};

/**
 * Prepares `out[0] = mean_i max(x, 0) - x y + log1p(exp(-|x|))`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const logits = gpu.storage(new Float32Array([0, 2]));
 *   const labels = gpu.storage(new Int32Array([1, 0]));
 *   const loss = gpu.storage(1);
 *   await gpu.run([bceForward(gpu, logits, labels, loss, { n: 2 })]);
 *   await gpu.read(loss); // ≈ [1.4100]: the mean of log 2 and log(1 + e²)
 * }
 * ```
 */
export function bceForward(
  gpu: GpuContext,
  logits: GpuView,
  labels: GpuView,
  out: GpuView,
  shape: BceShape,
): Dispatch {
  const { n } = shape;
  checkLength("bce_forward", { logits: [logits, n], labels: [labels, n], out: [out, 1] });
  return gpu.prepare(withWorkgroupSum(gpu, BCE_FORWARD), uniforms(n, 0), [logits, labels, out], 1);
}

/**
 * Prepares `dlogits += weight (σ(x) - y) / n`; `weight` is the loss weight times the upstream
 * gradient.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const logits = gpu.storage(new Float32Array([0, 2]));
 *   const labels = gpu.storage(new Int32Array([1, 0]));
 *   const dlogits = gpu.storage(2); // accumulates
 *   await gpu.run([bceBackward(gpu, logits, labels, dlogits, { n: 2, weight: 0.3 })]);
 *   await gpu.read(dlogits); // ≈ [-0.075, 0.1321] = 0.3 (sigmoid(logit) - label) / n
 * }
 * ```
 */
export function bceBackward(
  gpu: GpuContext,
  logits: GpuView,
  labels: GpuView,
  dlogits: GpuView,
  shape: BceBackwardShape,
): Dispatch {
  const { n, weight } = shape;
  checkLength("bce_backward", { logits: [logits, n], labels: [labels, n], dlogits: [dlogits, n] });
  return gpu.prepare(BCE_BACKWARD, uniforms(n, weight), [logits, labels, dlogits], groups(n, WG));
}

function uniforms(n: number, weight: number) {
  return [{ u32: n }, { f32: weight }];
}
