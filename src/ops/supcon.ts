/**
 * Supervised contrastive loss (Khosla et al. 2020, "all" contrast mode) on the GPU: the
 * similarity kernel computes `S = z zᵀ / τ` (as a similarity of z with itself at the constant log
 * scale ln(1/τ)), `kernels/supcon.wgsl` reduces it. Twin in `src/reference/supcon.ts`.
 *
 * Scratch: a {@link SupconLoss} (and each standalone call) allocates, once, an `n x n` similarity
 * buffer (the backward overwrites it with dS), `3n` floats of per-anchor statistics and a few
 * scalars (the log scale ln(1/τ), the anchor count); its dispatches keep them. A `SupconLoss`'s
 * backward reuses the similarity and statistics of its forward; the standalone
 * {@link supconBackward} computes them itself, so it does not depend on a forward having run.
 * `z` and `labels` must not share a buffer with `out` or `dz`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import { type GpuView, groups, type KernelSpec } from "../gpu/kernel.ts";
import { MAX_LOGIT_SCALE } from "../reference/similarity.ts";
import type { SupconBackwardShape, SupconShape } from "../reference/supcon.ts";
import { checkLength } from "./shapes.ts";
import { similarityBackward, similarityForward } from "./similarity.ts";
import { WORKGROUP_SUM, WORKGROUP_SUM_SIZE } from "./workgroup_sum.ts";

export type { SupconBackwardShape, SupconShape } from "../reference/supcon.ts";

const WG = 64;
const FILE = "supcon.wgsl";
const SHAPE = { n: "u32", weight: "f32" } as const;

/** `supcon_rows`: per-anchor statistics into stats_out, from the similarity sim and i32 labels. */
export const SUPCON_ROWS: KernelSpec = {
  name: "supcon_rows",
  file: FILE,
  libraries: [WORKGROUP_SUM],
  entryPoint: "supcon_rows",
  workgroupSize: [WG],
  uniforms: SHAPE,
  bindings: { labels: "read", sim: "read", stats_out: "read_write" },
};

/** `supcon_forward`: out[0] = the loss and anchors_out[0] = the anchor count, from stats. */
export const SUPCON_FORWARD: KernelSpec = {
  name: "supcon_forward",
  file: FILE,
  libraries: [WORKGROUP_SUM],
  entryPoint: "supcon_forward",
  workgroupSize: WORKGROUP_SUM_SIZE,
  uniforms: SHAPE,
  bindings: { stats: "read", out: "read_write", anchors_out: "read_write" },
};

/** `supcon_backward`: dsim (the similarity on entry) overwritten by dS. */
export const SUPCON_BACKWARD: KernelSpec = {
  name: "supcon_backward",
  file: FILE,
  libraries: [WORKGROUP_SUM],
  entryPoint: "supcon_backward",
  workgroupSize: [WG],
  uniforms: SHAPE,
  bindings: { labels: "read", dsim: "read_write", stats: "read", anchors: "read" },
};

/**
 * A SupCon loss over fixed `z` and `labels` whose forward and backward share one similarity matrix
 * and one set of anchor statistics (allocated here, once): a training step that computes its loss
 * anyway then computes `S = z zᵀ / τ` once instead of twice (the `n x n` GEMM and the row pass
 * are most of SupCon's cost). {@link supconForward} and {@link supconBackward} are the standalone
 * forms.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const z = gpu.storage(new Float32Array([1, 0, 1, 0, 0, 1])); // 3 unit rows
 *   const labels = gpu.storage(new Int32Array([0, 0, 1]));
 *   const loss = gpu.storage(1), dz = gpu.storage(6);
 *   const supcon = new SupconLoss(gpu, z, labels, { n: 3, dim: 2, temperature: 0.5 });
 *   await gpu.run([...supcon.forward(loss), ...supcon.backwardAfterForward(dz, 0.5)]);
 *   await gpu.readMany([loss, dz]); // [[≈ 0.1269], 0.5 · ∂loss/∂z]
 * }
 * ```
 */
export class SupconLoss {
  readonly #gpu: GpuContext;
  readonly #z: GpuView;
  readonly #labels: GpuView;
  readonly #shape: SupconShape;
  readonly #label: string;
  readonly #logScale: GpuView;
  readonly #sim: GpuView;
  readonly #stats: GpuView;
  readonly #anchors: GpuView;

  /**
   * Checks the shape and buffers and allocates the scratch.
   * @param z `[n, dim]` L2-normalized embeddings (not in the same buffer as any `out` or `dz`)
   * @param labels `n` i32 labels
   * @param label the name errors start with
   */
  constructor(
    gpu: GpuContext,
    z: GpuView,
    labels: GpuView,
    shape: SupconShape,
    label = "supcon",
  ) {
    const { n, dim, temperature } = shape;
    if (!(temperature >= 1 / MAX_LOGIT_SCALE && Number.isFinite(temperature))) {
      throw new RangeError(
        `${label}: temperature must be finite and >= ${1 / MAX_LOGIT_SCALE} (the similarity ` +
          `kernel caps the scale 1/τ at ${MAX_LOGIT_SCALE}), got ${temperature}`,
      );
    }
    checkLength(label, { z: [z, n * dim], labels: [labels, n] });
    this.#gpu = gpu;
    this.#z = z;
    this.#labels = labels;
    this.#shape = shape;
    this.#label = label;
    this.#logScale = gpu.storage(Float32Array.of(Math.log(1 / temperature)), "supcon log scale");
    this.#sim = gpu.storage(n * n, "supcon similarity");
    this.#stats = gpu.storage(3 * n, "supcon stats");
    this.#anchors = gpu.storage(1, "supcon anchors");
  }

  /**
   * Prepares S, the anchor statistics and `out[0]` = the loss: the mean over anchors that have a
   * positive of `-(1/|P(i)|) Σ_p log(exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ))`, 0 when none has
   * one. May be called for several `out` views (e.g. one per loss slot); all share the scratch.
   */
  forward(out: GpuView): Command[] {
    const gpu = this.#gpu, { n, dim } = this.#shape;
    checkLength(this.#label, { out: [out, 1] });
    return [
      ...similarityForward(gpu, this.#z, this.#z, this.#logScale, this.#sim, {
        rows: n,
        cols: n,
        dim,
      }),
      gpu.prepare(SUPCON_ROWS, {
        uniforms: { n, weight: 0 },
        bindings: { labels: this.#labels, sim: this.#sim, stats_out: this.#stats },
      }, groups(n, WG)),
      gpu.prepare(SUPCON_FORWARD, {
        uniforms: { n, weight: 0 },
        bindings: { stats: this.#stats, out, anchors_out: this.#anchors },
      }, 1),
    ];
  }

  /**
   * Prepares `dz += weight · ∂loss/∂z` (`weight` = the loss weight times the upstream gradient)
   * from the S and statistics that a {@link forward} of this object left: encode it after one,
   * with `z` and `labels` unchanged in between. Overwrites S with dS, then `dz += (dS + dSᵀ) z / τ`
   * by the similarity backward.
   */
  backwardAfterForward(dz: GpuView, weight: number): Command[] {
    const gpu = this.#gpu, { n, dim } = this.#shape;
    checkLength(this.#label, { dz: [dz, n * dim] });
    const dscale = gpu.storage(1, "supcon log scale gradient (unused)");
    return [
      gpu.prepare(SUPCON_BACKWARD, {
        uniforms: { n, weight },
        bindings: {
          labels: this.#labels,
          dsim: this.#sim,
          stats: this.#stats,
          anchors: this.#anchors,
        },
      }, [groups(n, WG), n]),
      ...similarityBackward(gpu, this.#z, this.#z, this.#logScale, this.#sim, dz, dz, dscale, {
        rows: n,
        cols: n,
        dim,
      }),
    ];
  }
}

/**
 * Prepares `out[0]` = SupCon loss of the `[n, dim]` embeddings `z` (L2-normalized rows) with i32
 * `labels` at temperature τ ({@link SupconLoss.forward}).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const z = gpu.storage(new Float32Array([1, 0, 1, 0, 0, 1])); // 3 unit rows
 *   const labels = gpu.storage(new Int32Array([0, 0, 1])), loss = gpu.storage(1);
 *   const shape = { n: 3, dim: 2, temperature: 0.5 };
 *   await gpu.runOnce(() => supconForward(gpu, z, labels, loss, shape));
 *   await gpu.read(loss); // ≈ [0.1269]
 * }
 * ```
 */
export function supconForward(
  gpu: GpuContext,
  z: GpuView,
  labels: GpuView,
  out: GpuView,
  shape: SupconShape,
): Command[] {
  return new SupconLoss(gpu, z, labels, shape, "supcon_forward").forward(out);
}

/**
 * Prepares `dz += weight · ∂loss/∂z` on its own: S and the anchor statistics, then the backward
 * of {@link SupconLoss} (which reuses a forward's instead).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const z = gpu.storage(new Float32Array([1, 0, 1, 0, 0, 1])); // 3 unit rows
 *   const labels = gpu.storage(new Int32Array([0, 0, 1])), dz = gpu.storage(6); // dz accumulates
 *   const shape = { n: 3, dim: 2, temperature: 0.5, weight: 0.5 };
 *   await gpu.runOnce(() => supconBackward(gpu, z, labels, dz, shape));
 * }
 * ```
 */
export function supconBackward(
  gpu: GpuContext,
  z: GpuView,
  labels: GpuView,
  dz: GpuView,
  shape: SupconBackwardShape,
): Command[] {
  const loss = new SupconLoss(gpu, z, labels, shape, "supcon_backward");
  const unused = gpu.storage(1, "supcon loss (unused)");
  return [...loss.forward(unused), ...loss.backwardAfterForward(dz, shape.weight)];
}
