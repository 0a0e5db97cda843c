/**
 * CPU twin (float64) of the linear op (`src/ops/linear.ts`: GEMMs and `kernels/linear.wgsl`):
 * `y = x·W + b` with W stored `[inDim, outDim]` row-major, and its accumulating backward.
 *
 * @module
 */

/** Shape of a linear layer applied to a batch. */
export interface LinearShape {
  /** Rows of x and y (M). */
  rows: number;
  /** Input features (K): x is `[rows, inDim]`, W is `[inDim, outDim]`. */
  inDim: number;
  /** Output features (N): y is `[rows, outDim]`, b is `[outDim]`. */
  outDim: number;
}

/**
 * `y = x·W + b` (overwrites y).
 * @example
 * ```ts
 * const y = new Float64Array(2);
 * linearForward(
 *   new Float64Array([1, 2]),
 *   new Float64Array([1, 0, 0, 1]),
 *   new Float64Array([0.5, 0]),
 *   y,
 *   { rows: 1, inDim: 2, outDim: 2 },
 * );
 * // y = [1.5, 2]
 * ```
 */
export function linearForward(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  y: Float64Array,
  shape: LinearShape,
): void {
  const { rows, inDim: K, outDim: N } = shape;
  for (let r = 0; r < rows; r++) {
    const out = y.subarray(r * N, r * N + N);
    out.set(b.subarray(0, N));
    for (let k = 0; k < K; k++) {
      const xv = x[r * K + k];
      const wr = k * N;
      for (let n = 0; n < N; n++) out[n] += xv * w[wr + n];
    }
  }
}

/**
 * Accumulates `dx += dy·Wᵀ` (skipped when `dx` is null: a frozen input), `dw += xᵀ·dy` and
 * `db += column sums of dy`.
 * @example
 * ```ts
 * const shape = { rows: 1, inDim: 2, outDim: 1 };
 * const dx = new Float64Array(2), dw = new Float64Array(2), db = new Float64Array(1);
 * linearBackward(new Float64Array([1, 2]), new Float64Array([3, 4]), new Float64Array([1]), dx, dw, db, shape);
 * // dx = [3, 4], dw = [1, 2], db = [1]
 * ```
 */
export function linearBackward(
  x: Float64Array,
  w: Float64Array,
  dy: Float64Array,
  dx: Float64Array | null,
  dw: Float64Array,
  db: Float64Array,
  shape: LinearShape,
): void {
  const { rows, inDim: K, outDim: N } = shape;
  for (let r = 0; r < rows; r++) {
    const g = dy.subarray(r * N, r * N + N);
    for (let n = 0; n < N; n++) db[n] += g[n];
    for (let k = 0; k < K; k++) {
      const xv = x[r * K + k];
      const wr = k * N;
      let s = 0;
      for (let n = 0; n < N; n++) {
        dw[wr + n] += xv * g[n];
        s += g[n] * w[wr + n];
      }
      if (dx) dx[r * K + k] += s;
    }
  }
}
