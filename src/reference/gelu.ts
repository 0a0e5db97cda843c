/**
 * CPU twin (float64) of `kernels/gelu.wgsl`: GELU in the erf form of PyTorch's default
 * `nn.GELU()`, `y = x Φ(x)` with `Φ(x) = ½ (1 + erf(x/√2))`.
 *
 * @module
 */

import { erfc } from "../util/erf.ts";

/** Shape of an elementwise op. */
export interface GeluShape {
  /** Number of elements. */
  length: number;
}

const FRAC_1_SQRT_2 = Math.SQRT1_2;
const FRAC_1_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Φ(x), the standard normal CDF, as `½ erfc(-x/√2)` (accurate in the left tail too). */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * FRAC_1_SQRT_2);
}

/**
 * `y = 0.5 · x · (1 + erf(x/√2))` elementwise.
 * @example
 * ```ts
 * const y = new Float64Array(1);
 * geluForward(new Float64Array([1]), y, { length: 1 }); // y ≈ [0.8413447460685429]
 * ```
 */
export function geluForward(x: Float64Array, y: Float64Array, shape: GeluShape): void {
  for (let i = 0; i < shape.length; i++) y[i] = x[i] * normalCdf(x[i]);
}

/**
 * Accumulates `dx += dy · (Φ(x) + x φ(x))` elementwise, `φ` the standard normal density.
 * @example
 * ```ts
 * const dx = new Float64Array([1]);
 * geluBackward(new Float64Array([0]), new Float64Array([2]), dx, { length: 1 }); // dx = [2]
 * ```
 */
export function geluBackward(
  x: Float64Array,
  dy: Float64Array,
  dx: Float64Array,
  shape: GeluShape,
): void {
  for (let i = 0; i < shape.length; i++) {
    const v = x[i];
    dx[i] += dy[i] * (normalCdf(v) + v * FRAC_1_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}
