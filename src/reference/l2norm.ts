/**
 * CPU twin (float64) of `kernels/l2norm.wgsl`.
 *
 * @module
 */

/** Shape of a row-wise L2 normalization. */
export interface L2NormShape {
  /** Number of rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Lower bound of the norm divided by (PyTorch's F.normalize default: 1e-12). */
  eps: number;
}

/**
 * `y = x / max(|x|, eps)` per row; `norm = |x|`.
 * @example
 * ```ts
 * const y = new Float64Array(2), norm = new Float64Array(1);
 * l2normForward(new Float64Array([3, 4]), y, norm, { rows: 1, dim: 2, eps: 1e-12 });
 * // y = [0.6, 0.8], norm = [5]
 * ```
 */
export function l2normForward(
  x: Float64Array,
  y: Float64Array,
  norm: Float64Array,
  shape: L2NormShape,
): void {
  const { rows, dim, eps } = shape;
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += x[r * dim + j] ** 2;
    const n = Math.sqrt(sq);
    norm[r] = n;
    const inv = 1 / Math.max(n, eps);
    for (let j = 0; j < dim; j++) y[r * dim + j] = x[r * dim + j] * inv;
  }
}

/**
 * Accumulates `dx += (dy - y (y·dy)) / |x|` per row (`dx += dy / eps` where `|x| < eps`).
 * @example
 * ```ts
 * const dx = new Float64Array(2);
 * l2normBackward(new Float64Array([0.6, 0.8]), new Float64Array([5]), new Float64Array([1, 0]), dx, {
 *   rows: 1, dim: 2, eps: 1e-12,
 * });
 * ```
 */
export function l2normBackward(
  y: Float64Array,
  norm: Float64Array,
  dy: Float64Array,
  dx: Float64Array,
  shape: L2NormShape,
): void {
  const { rows, dim, eps } = shape;
  for (let r = 0; r < rows; r++) {
    const n = norm[r];
    let dot = 0;
    if (n >= eps) { for (let j = 0; j < dim; j++) dot += y[r * dim + j] * dy[r * dim + j]; }
    const inv = 1 / Math.max(n, eps);
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j;
      dx[i] += (dy[i] - y[i] * dot) * inv;
    }
  }
}
