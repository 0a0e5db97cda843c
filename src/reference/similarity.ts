/**
 * CPU twin (float64) of `kernels/similarity.wgsl`.
 *
 * @module
 */

/** Shape of a scaled similarity `logits = s U Vᵀ`. */
export interface SimilarityShape {
  /** Rows of U (and of the logits). */
  rows: number;
  /** Rows of V (columns of the logits). */
  cols: number;
  /** Embedding size, the row length of U and V. */
  dim: number;
}

/** CLIP's cap on the logit scale: `s = min(exp(t), MAX_LOGIT_SCALE)`. */
export const MAX_LOGIT_SCALE = 100;

/**
 * The logit scale `min(exp(t), 100)` of a log scale `t`.
 * @example
 * ```ts
 * logitScale(Math.log(1 / 0.07)); // ≈ 14.29
 * ```
 */
export function logitScale(t: number): number {
  return Math.min(Math.exp(t), MAX_LOGIT_SCALE);
}

/**
 * `logits[i, j] = s (u_i · v_j)` with `s = min(exp(t[0]), 100)`.
 * @example
 * ```ts
 * const logits = new Float64Array(1);
 * similarityForward(new Float64Array([1, 0]), new Float64Array([0.5, 0.5]), new Float64Array([0]),
 *   logits, { rows: 1, cols: 1, dim: 2 }); // logits = [0.5]
 * ```
 */
export function similarityForward(
  u: Float64Array,
  v: Float64Array,
  t: Float64Array,
  logits: Float64Array,
  shape: SimilarityShape,
): void {
  const { rows, cols, dim } = shape;
  const s = logitScale(t[0]);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += u[i * dim + k] * v[j * dim + k];
      logits[i * cols + j] = s * dot;
    }
  }
}

/**
 * Accumulates `du += s dL V`, `dv += s dLᵀ U` and `dt[0] += s Σ dL ⊙ (U Vᵀ)` (0 once
 * `exp(t) >= 100`, where the cap makes the scale constant).
 * @example
 * ```ts
 * const du = new Float64Array(2), dv = new Float64Array(2), dt = new Float64Array(1);
 * similarityBackward(new Float64Array([1, 0]), new Float64Array([0.5, 0.5]), new Float64Array([0]),
 *   new Float64Array([1]), du, dv, dt, { rows: 1, cols: 1, dim: 2 }); // dt = [0.5]
 * ```
 */
export function similarityBackward(
  u: Float64Array,
  v: Float64Array,
  t: Float64Array,
  dlogits: Float64Array,
  du: Float64Array,
  dv: Float64Array,
  dt: Float64Array,
  shape: SimilarityShape,
): void {
  const { rows, cols, dim } = shape;
  const s = logitScale(t[0]);
  let dscale = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const g = dlogits[i * cols + j];
      let dot = 0;
      for (let k = 0; k < dim; k++) {
        dot += u[i * dim + k] * v[j * dim + k];
        du[i * dim + k] += s * g * v[j * dim + k];
        dv[j * dim + k] += s * g * u[i * dim + k];
      }
      dscale += g * dot;
    }
  }
  if (Math.exp(t[0]) < MAX_LOGIT_SCALE) dt[0] += s * dscale;
}
