/**
 * CPU twin (float64) of `kernels/bce.wgsl`.
 *
 * @module
 */

/** Shape of binary cross-entropy with logits over `n` logits. */
export interface BceShape {
  /** Number of logits (and labels). */
  n: number;
}

/** Shape and scale of the BCE backward. */
export interface BceBackwardShape extends BceShape {
  /** The loss weight times the upstream gradient. */
  weight: number;
}

/**
 * `out[0] = mean_i max(x, 0) - x y + log1p(exp(-|x|))` with `y = labels[i]` (0 or 1).
 * @example
 * ```ts
 * const out = new Float64Array(1);
 * bceForward(new Float64Array([0]), new Int32Array([1]), out, { n: 1 }); // out = [log 2]
 * ```
 */
export function bceForward(
  logits: Float64Array,
  labels: Int32Array,
  out: Float64Array,
  shape: BceShape,
): void {
  const { n } = shape;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    total += Math.max(x, 0) - x * labels[i] + Math.log1p(Math.exp(-Math.abs(x)));
  }
  out[0] = total / n;
}

/**
 * Accumulates `dlogits += weight (σ(x) - y) / n`.
 * @example
 * ```ts
 * const d = new Float64Array(1);
 * bceBackward(new Float64Array([0]), new Int32Array([1]), d, { n: 1, weight: 1 }); // d = [-0.5]
 * ```
 */
export function bceBackward(
  logits: Float64Array,
  labels: Int32Array,
  dlogits: Float64Array,
  shape: BceBackwardShape,
): void {
  const { n, weight } = shape;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    const sigmoid = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    dlogits[i] += weight * (sigmoid - labels[i]) / n;
  }
}
