/**
 * CPU twin (float64) of `kernels/grad_norm.wgsl`: the global L2 norm of a flat buffer, as
 * `torch.nn.utils.clip_grad_norm_` computes it over all gradients.
 *
 * @module
 */

/** Shape of a norm over a flat buffer. */
export interface GradNormShape {
  /** Number of elements. */
  length: number;
}

/**
 * `out[0] = sqrt(sum x²)` over the first `length` elements.
 * @example
 * ```ts
 * const out = new Float64Array(1);
 * gradNorm(new Float64Array([3, 4]), out, { length: 2 }); // out = [5]
 * ```
 */
export function gradNorm(x: Float64Array, out: Float64Array, shape: GradNormShape): void {
  let sq = 0;
  for (let i = 0; i < shape.length; i++) sq += x[i] * x[i];
  out[0] = Math.sqrt(sq);
}
