/**
 * Supervised contrastive loss (Khosla et al. 2020, "all" contrast mode) on the GPU: the
 * similarity kernel computes `S = z zᵀ / τ` (as a similarity of z with itself at the constant log
 * scale ln(1/τ)), `kernels/supcon.wgsl` reduces it. Twin in `src/reference/supcon.ts`.
 *
 * Scratch: each call allocates, once, an `n x n` similarity buffer (the backward overwrites it
 * with dS), `3n` floats of per-anchor statistics and a few scalars (the log scale ln(1/τ), the
 * anchor count); its dispatches keep them. The backward recomputes
 * the similarity and statistics, so it does not depend on the forward having run (a trainer may
 * run the forward only on the steps whose loss it reads). `z` and `labels` must not share a
 * buffer with `out` or `dz`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import { type GpuView, groups, type KernelSpec } from "../gpu/kernel.ts";
import { MAX_LOGIT_SCALE } from "../reference/similarity.ts";
import type { SupconBackwardShape, SupconShape } from "../reference/supcon.ts";
import { checkLength } from "./shapes.ts";
import { similarityBackward, similarityForward } from "./similarity.ts";
import { withWorkgroupSum, WORKGROUP_SUM_LIBRARY } from "./workgroup_sum.ts";

export type { SupconBackwardShape, SupconShape } from "../reference/supcon.ts";

const WG = 64;
const FILE = "supcon.wgsl";

/** `supcon_rows`: uniform, labels (i32), similarity, per-anchor stats. */
export const SUPCON_ROWS: KernelSpec = {
  name: "supcon_rows",
  file: FILE,
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "supcon_rows",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "write"],
};

/** `supcon_forward`: uniform, stats, out, anchor count. One workgroup. */
export const SUPCON_FORWARD: KernelSpec = {
  name: "supcon_forward",
  file: FILE,
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "supcon_forward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write", "write"],
};

/** `supcon_backward`: uniform, labels (i32), similarity (overwritten by dS), stats, anchor count. */
export const SUPCON_BACKWARD: KernelSpec = {
  name: "supcon_backward",
  file: FILE,
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "supcon_backward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write", "read", "read"],
};

/** Scratch of one prepared call. */
interface Scratch {
  logScale: GpuView;
  sim: GpuView;
  stats: GpuView;
  anchors: GpuView;
}

/** Checks the shape and buffers, allocates the scratch, prepares S = z zᵀ/τ and the row pass. */
function prepareRows(
  gpu: GpuContext,
  kernel: string,
  z: GpuView,
  labels: GpuView,
  shape: SupconShape,
): { scratch: Scratch; dispatches: Command[] } {
  const { n, dim, temperature } = shape;
  if (!(temperature >= 1 / MAX_LOGIT_SCALE && Number.isFinite(temperature))) {
    throw new RangeError(
      `${kernel}: temperature must be finite and >= ${1 / MAX_LOGIT_SCALE} (the similarity ` +
        `kernel caps the scale 1/τ at ${MAX_LOGIT_SCALE}), got ${temperature}`,
    );
  }
  checkLength(kernel, { z: [z, n * dim], labels: [labels, n] });
  const scratch = {
    logScale: gpu.storage(Float32Array.of(Math.log(1 / temperature)), "supcon log scale"),
    sim: gpu.storage(n * n, "supcon similarity"),
    stats: gpu.storage(3 * n, "supcon stats"),
    anchors: gpu.storage(1, "supcon anchors"),
  };
  const dispatches = [
    ...similarityForward(gpu, z, z, scratch.logScale, scratch.sim, { rows: n, cols: n, dim }),
    gpu.prepare(SUPCON_ROWS, uniforms(n, 0), [labels, scratch.sim, scratch.stats], groups(n, WG)),
  ];
  return { scratch, dispatches };
}

/**
 * Prepares `out[0]` = SupCon loss of the `[n, dim]` embeddings `z` (L2-normalized rows) with i32
 * `labels` at temperature τ: the mean over anchors that have a positive of
 * `-(1/|P(i)|) Σ_p log(exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ))`, 0 when none has one.
 * @example
 * ```ts
 * // const ds = supconForward(gpu, z, labels, loss, { n: 512, dim: 256, temperature: 0.1 });
 * // await gpu.run(ds);
 * ```
 */
export function supconForward(
  gpu: GpuContext,
  z: GpuView,
  labels: GpuView,
  out: GpuView,
  shape: SupconShape,
): Command[] {
  checkLength("supcon_forward", { out: [out, 1] });
  const { scratch, dispatches } = prepareRows(gpu, "supcon_forward", z, labels, shape);
  return [
    ...dispatches,
    gpu.prepare(withWorkgroupSum(gpu, SUPCON_FORWARD), uniforms(shape.n, 0), [
      scratch.stats,
      out,
      scratch.anchors,
    ], 1),
  ];
}

/**
 * Prepares `dz += weight · ∂loss/∂z` (`weight` = the loss weight times the upstream gradient):
 * S and the anchor statistics again, then `dS` in place of S, then `dz += (dS + dSᵀ) z / τ` by
 * the similarity backward.
 * @example
 * ```ts
 * // const ds = supconBackward(gpu, z, labels, dz, { n: 512, dim: 256, temperature: 0.1, weight: 0.5 });
 * ```
 */
export function supconBackward(
  gpu: GpuContext,
  z: GpuView,
  labels: GpuView,
  dz: GpuView,
  shape: SupconBackwardShape,
): Command[] {
  const { n, dim, weight } = shape;
  checkLength("supcon_backward", { dz: [dz, n * dim] });
  const { scratch, dispatches } = prepareRows(gpu, "supcon_backward", z, labels, shape);
  const loss = gpu.storage(1, "supcon loss (unused)");
  const dscale = gpu.storage(1, "supcon log scale gradient (unused)");
  const u = uniforms(n, weight);
  return [
    ...dispatches,
    gpu.prepare(
      withWorkgroupSum(gpu, SUPCON_FORWARD),
      u,
      [scratch.stats, loss, scratch.anchors],
      1,
    ),
    gpu.prepare(SUPCON_BACKWARD, u, [labels, scratch.sim, scratch.stats, scratch.anchors], [
      groups(n, WG),
      n,
    ]),
    ...similarityBackward(gpu, z, z, scratch.logScale, scratch.sim, dz, dz, dscale, {
      rows: n,
      cols: n,
      dim,
    }),
  ];
}

function uniforms(n: number, weight: number) {
  return [{ u32: n }, { f32: weight }];
}
