/**
 * Binary cross-entropy with logits on the GPU (`kernels/bce.wgsl`), numerically stable, mean
 * over `n`; labels are i32 0/1. Twin in `src/reference/bce.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import { type GpuView, groups, type KernelSpec } from "../gpu/kernel.ts";
import type { BceBackwardShape, BceShape } from "../reference/bce.ts";
import { checkLength } from "./shapes.ts";
import { WORKGROUP_SUM, WORKGROUP_SUM_SIZE } from "./workgroup_sum.ts";

export type { BceBackwardShape, BceShape } from "../reference/bce.ts";

const WG = 64;
const SHAPE = { n: "u32", weight: "f32" } as const;

/** `bce_forward`: out[0] = the mean loss over logits and i32 labels. One workgroup. */
export const BCE_FORWARD: KernelSpec = {
  name: "bce_forward",
  file: "bce.wgsl",
  libraries: [WORKGROUP_SUM],
  entryPoint: "bce_forward",
  workgroupSize: WORKGROUP_SUM_SIZE,
  uniforms: SHAPE,
  bindings: { logits: "read", labels: "read", out: "read_write" },
};

/** `bce_backward`: dlogits += the weighted gradient; one invocation per element. */
export const BCE_BACKWARD: KernelSpec = {
  name: "bce_backward",
  file: "bce.wgsl",
  libraries: [WORKGROUP_SUM],
  entryPoint: "bce_backward",
  workgroupSize: [WG],
  uniforms: SHAPE,
  bindings: { logits: "read", labels: "read", dlogits: "read_write" },
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
 *   await gpu.run(bceForward(gpu, logits, labels, loss, { n: 2 }));
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
): Command[] {
  const { n } = shape;
  checkLength("bce_forward", { logits: [logits, n], labels: [labels, n], out: [out, 1] });
  const uniforms = { n, weight: 0 };
  return [gpu.prepare(BCE_FORWARD, { uniforms, bindings: { logits, labels, out } }, 1)];
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
 *   await gpu.run(bceBackward(gpu, logits, labels, dlogits, { n: 2, weight: 0.3 }));
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
): Command[] {
  const { n, weight } = shape;
  checkLength("bce_backward", { logits: [logits, n], labels: [labels, n], dlogits: [dlogits, n] });
  const inputs = { uniforms: { n, weight }, bindings: { logits, labels, dlogits } };
  return [gpu.prepare(BCE_BACKWARD, inputs, groups(n, WG))];
}
