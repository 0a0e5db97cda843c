/**
 * CPU twin (float64) of the supervised contrastive loss (`kernels/supcon.wgsl` together with the
 * similarity kernel that computes `z zᵀ / τ`).
 *
 * @module
 */

/** Shape of the supervised contrastive loss. */
export interface SupconShape {
  /** Number of embeddings (2B: image rows then text rows). */
  n: number;
  /** Embedding size. */
  dim: number;
  /** Temperature τ (at least 0.01: the similarity kernel caps the scale 1/τ at 100). */
  temperature: number;
}

/** Shape and scale of the SupCon backward. */
export interface SupconBackwardShape extends SupconShape {
  /** The loss weight times the upstream gradient. */
  weight: number;
}

/** Per anchor: the similarities S = z zᵀ/τ, lse over a ≠ i, number of positives, ℓ_i. */
function anchorStats(z: Float64Array, labels: Int32Array, shape: SupconShape) {
  const { n, dim, temperature } = shape;
  const sim = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += z[i * dim + k] * z[j * dim + k];
      sim[i * n + j] = dot / temperature;
    }
  }
  const lse = new Float64Array(n), positives = new Float64Array(n), loss = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity, sum = 0, positiveSum = 0;
    for (let a = 0; a < n; a++) if (a !== i) m = Math.max(m, sim[i * n + a]);
    for (let a = 0; a < n; a++) {
      if (a === i) continue;
      sum += Math.exp(sim[i * n + a] - m);
      if (labels[a] === labels[i]) {
        positives[i]++;
        positiveSum += sim[i * n + a];
      }
    }
    lse[i] = m + Math.log(sum);
    if (positives[i] > 0) loss[i] = lse[i] - positiveSum / positives[i];
  }
  const anchors = positives.filter((p) => p > 0).length;
  return { sim, lse, positives, loss, anchors };
}

/**
 * `out[0]` = mean over anchors with at least one positive of
 * `ℓ_i = -(1/|P(i)|) Σ_p log(exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ))`; 0 when no anchor has one.
 * @example
 * ```ts
 * const out = new Float64Array(1);
 * supconForward(new Float64Array([1, 0, 1, 0, 0, 1]), new Int32Array([0, 0, 1]), out,
 *   { n: 3, dim: 2, temperature: 0.5 });
 * ```
 */
export function supconForward(
  z: Float64Array,
  labels: Int32Array,
  out: Float64Array,
  shape: SupconShape,
): void {
  const { loss, anchors } = anchorStats(z, labels, shape);
  out[0] = anchors > 0 ? loss.reduce((s, x) => s + x, 0) / anchors : 0;
}

/**
 * Accumulates `dz += weight · ∂loss/∂z`: with `G_ij = (softmax_i(j) - [j∈P(i)]/|P(i)|) / A` for
 * anchors i and j ≠ i, `dz += weight (G + Gᵀ) z / τ`.
 * @example
 * ```ts
 * const dz = new Float64Array(6);
 * supconBackward(new Float64Array([1, 0, 1, 0, 0, 1]), new Int32Array([0, 0, 1]), dz,
 *   { n: 3, dim: 2, temperature: 0.5, weight: 1 });
 * ```
 */
export function supconBackward(
  z: Float64Array,
  labels: Int32Array,
  dz: Float64Array,
  shape: SupconBackwardShape,
): void {
  const { n, dim, temperature, weight } = shape;
  const { sim, lse, positives, anchors } = anchorStats(z, labels, shape);
  for (let i = 0; i < n; i++) {
    if (positives[i] === 0) continue;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const positive = labels[j] === labels[i] ? 1 / positives[i] : 0;
      const g = weight / anchors * (Math.exp(sim[i * n + j] - lse[i]) - positive) / temperature;
      for (let k = 0; k < dim; k++) {
        dz[i * dim + k] += g * z[j * dim + k];
        dz[j * dim + k] += g * z[i * dim + k];
      }
    }
  }
}
