/**
 * CPU twin (float64) of `kernels/gemm.wgsl`: `C = A·B + bias` or `C += A·B`, each operand read
 * from a row-major source as itself or transposed.
 *
 * @module
 */

/**
 * A logical matrix L `[rows, cols]` held in `src` row-major, or as Lᵀ row-major when
 * `transposed`.
 */
export interface MatrixRef<Source = Float64Array> {
  /** The elements. */
  src: Source;
  /** Rows of L. */
  rows: number;
  /** Columns of L. */
  cols: number;
  /** True when `src` holds Lᵀ `[cols, rows]` row-major. */
  transposed: boolean;
}

/**
 * Throws unless A·B is defined (A's columns are B's rows), naming both shapes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const m = (rows: number, cols: number) => ({ src: [], rows, cols, transposed: false });
 * checkGemm("P = U·V", m(2, 3), m(3, 4)); // passes
 * assert.throws(() => checkGemm("P = U·V", m(2, 3), m(2, 4)), /A is \[2, 3\] but B is \[2, 4\]/);
 * ```
 */
export function checkGemm<S>(label: string, a: MatrixRef<S>, b: MatrixRef<S>): void {
  if (a.cols !== b.rows) {
    throw new RangeError(`${label}: A is [${a.rows}, ${a.cols}] but B is [${b.rows}, ${b.cols}]`);
  }
}

/**
 * C `[a.rows, b.cols]` row-major: `C = A·B + bias` with a bias (`[b.cols]`), else `C += A·B`.
 * @example
 * ```ts
 * // P = U·Vᵀ with u and v [2, 3] row-major: Vᵀ [3, 2] is v read transposed.
 * const u = new Float64Array([1, 0, 0, 0, 1, 0]), v = new Float64Array([1, 2, 3, 4, 5, 6]);
 * const p = new Float64Array(4);
 * gemm(
 *   "P = U·Vᵀ",
 *   { src: u, rows: 2, cols: 3, transposed: false },
 *   { src: v, rows: 3, cols: 2, transposed: true },
 *   null,
 *   p,
 * );
 * // p = [1, 4, 2, 5]
 * ```
 */
export function gemm(
  label: string,
  a: MatrixRef,
  b: MatrixRef,
  bias: Float64Array | null,
  c: Float64Array,
): void {
  checkGemm(label, a, b);
  const at = (m: MatrixRef, r: number, k: number) =>
    m.transposed ? m.src[k * m.rows + r] : m.src[r * m.cols + k];
  for (let r = 0; r < a.rows; r++) {
    for (let j = 0; j < b.cols; j++) {
      let sum = 0;
      for (let k = 0; k < a.cols; k++) sum += at(a, r, k) * at(b, k, j);
      const i = r * b.cols + j;
      c[i] = bias ? bias[j] + sum : c[i] + sum;
    }
  }
}
