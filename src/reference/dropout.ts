/**
 * CPU twin (float64) of `kernels/dropout.wgsl`: inverted dropout whose mask is a pure function
 * of (seed, element index), so a run is reproducible and the backward recomputes the mask
 * instead of storing it. The hash is the same u32 arithmetic as the WGSL (Math.imul), so GPU and
 * twin masks are identical bit for bit.
 *
 * @module
 */

/** Options of dropout. */
export interface DropoutOptions {
  /** Number of elements. */
  length: number;
  /** Probability of zeroing an element, in [0, 1]; 0 is the identity. */
  p: number;
  /** u32 seed: use a new one per step (and per dropout site), the same in forward and backward. */
  seed: number;
}

/**
 * PCG hash of a u32 (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020): one LCG step
 * and the RXS-M-XS output permutation. A bijection of u32.
 * @example
 * ```ts
 * pcgHash(0); // 129708002
 * ```
 */
export function pcgHash(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * The drop threshold on 24 random bits and the scale of kept elements, after checking the
 * options (a clear error names `kernel` and the bad field).
 * @example
 * ```ts
 * dropoutParams("dropout", { length: 4, p: 0.5, seed: 1 }); // { threshold: 8388608, scale: 2 }
 * ```
 */
export function dropoutParams(
  kernel: string,
  opts: DropoutOptions,
): { threshold: number; scale: number } {
  const { length, p, seed } = opts;
  if (!Number.isInteger(length) || length < 1) {
    throw new RangeError(`${kernel}: length must be an integer >= 1, got ${length}`);
  }
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${kernel}: p must be in [0, 1], got ${p}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`${kernel}: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return { threshold: Math.round(p * 2 ** 24), scale: p < 1 ? 1 / (1 - p) : 0 };
}

/**
 * True when element `i` is kept: the top 24 bits of `pcgHash(pcgHash(i) ^ pcgHash(seed))` are
 * at least `threshold` (so P(kept) = 1 - threshold / 2^24).
 * @example
 * ```ts
 * dropoutKeeps(1, 0, 0); // true: threshold 0 keeps everything
 * ```
 */
export function dropoutKeeps(seed: number, i: number, threshold: number): boolean {
  return (pcgHash(pcgHash(i) ^ pcgHash(seed)) >>> 8) >= threshold;
}

/**
 * `y = x · mask / (1 - p)`, the mask drawn from (seed, index). A dropped element is `x · 0`
 * (NaN stays NaN), as on the GPU.
 * @example
 * ```ts
 * const y = new Float64Array(4);
 * dropoutForward(new Float64Array([1, 2, 3, 4]), y, { length: 4, p: 0.5, seed: 7 });
 * // each y[i] is 0 or 2 * x[i]
 * ```
 */
export function dropoutForward(x: Float64Array, y: Float64Array, opts: DropoutOptions): void {
  const { threshold, scale } = dropoutParams("dropout_forward", opts);
  for (let i = 0; i < opts.length; i++) {
    y[i] = x[i] * (dropoutKeeps(opts.seed, i, threshold) ? scale : 0);
  }
}

/**
 * Accumulates `dx += dy · mask / (1 - p)` with the forward's mask (same seed).
 * @example
 * ```ts
 * const dx = new Float64Array(4);
 * dropoutBackward(new Float64Array([1, 1, 1, 1]), dx, { length: 4, p: 0.5, seed: 7 });
 * ```
 */
export function dropoutBackward(dy: Float64Array, dx: Float64Array, opts: DropoutOptions): void {
  const { threshold, scale } = dropoutParams("dropout_backward", opts);
  for (let i = 0; i < opts.length; i++) {
    dx[i] += dy[i] * (dropoutKeeps(opts.seed, i, threshold) ? scale : 0);
  }
}
