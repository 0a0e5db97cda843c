/**
 * CPU twin (float64) of `kernels/clip_loss.wgsl`.
 *
 * @module
 */

/** Shape of the CLIP loss: an `n x n` logit matrix whose matching pairs are on the diagonal. */
export interface ClipLossShape {
  /** Number of pairs. */
  n: number;
}

/** Shape and scale of the CLIP loss backward. */
export interface ClipLossBackwardShape extends ClipLossShape {
  /** The loss weight times the upstream gradient. */
  weight: number;
}

/** Max-subtracted log-sum-exp of `count` elements of `x` from `base`, `stride` apart. */
function logSumExp(x: Float64Array, base: number, stride: number, count: number): number {
  let m = -Infinity;
  for (let k = 0; k < count; k++) m = Math.max(m, x[base + k * stride]);
  let sum = 0;
  for (let k = 0; k < count; k++) sum += Math.exp(x[base + k * stride] - m);
  return m + Math.log(sum);
}

/** Log-sum-exp of every row (first n) and every column (last n). */
function rowColLse(logits: Float64Array, n: number): Float64Array {
  const lse = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    lse[i] = logSumExp(logits, i * n, 1, n);
    lse[n + i] = logSumExp(logits, i, n, n);
  }
  return lse;
}

/**
 * `out[0] = ½ (mean_i CE(row i, target i) + mean_j CE(column j, target j))`.
 * @example
 * ```ts
 * const out = new Float64Array(1);
 * clipLossForward(new Float64Array([2, 0, 0, 2]), out, { n: 2 }); // out = [log(1 + e^-2)]
 * ```
 */
export function clipLossForward(
  logits: Float64Array,
  out: Float64Array,
  shape: ClipLossShape,
): void {
  const { n } = shape;
  const lse = rowColLse(logits, n);
  let total = 0;
  for (let i = 0; i < n; i++) total += lse[i] + lse[n + i] - 2 * logits[i * n + i];
  out[0] = total / (2 * n);
}

/**
 * Accumulates `dlogits += weight (softmax_rows - I + softmax_cols - I) / (2n)`.
 * @example
 * ```ts
 * const d = new Float64Array(4);
 * clipLossBackward(new Float64Array([2, 0, 0, 2]), d, { n: 2, weight: 1 });
 * ```
 */
export function clipLossBackward(
  logits: Float64Array,
  dlogits: Float64Array,
  shape: ClipLossBackwardShape,
): void {
  const { n, weight } = shape;
  const lse = rowColLse(logits, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = logits[i * n + j];
      const g = Math.exp(x - lse[i]) + Math.exp(x - lse[n + j]) - (i === j ? 2 : 0);
      dlogits[i * n + j] += weight * g / (2 * n);
    }
  }
}
