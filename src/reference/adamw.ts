/**
 * CPU twin (float64) of `kernels/adamw.wgsl`: one AdamW step over a flat parameter buffer with
 * global gradient-norm clipping folded in, exactly as PyTorch 1.13 runs
 * `torch.nn.utils.clip_grad_norm_(params, maxNorm)` then `torch.optim.AdamW.step()`
 * (non-fused, `foreach=False`), except that the gradients are left unmodified.
 *
 * @module
 */

/** Hyper-parameters of one AdamW step. */
export interface AdamWOptions {
  /** Number of parameters. */
  length: number;
  /** Learning rate of this step. */
  lr: number;
  /** First-moment decay (PyTorch default 0.9). */
  beta1: number;
  /** Second-moment decay (PyTorch default 0.999). */
  beta2: number;
  /** Added to the denominator (PyTorch default 1e-8). */
  eps: number;
  /** Decoupled weight decay, applied to the first `decayEnd` parameters only. */
  weightDecay: number;
  /** Step number, 1 on the first update (bias corrections use it). */
  step: number;
  /** Parameters `[0, decayEnd)` are decayed (weights); the rest (biases, logit scale) are not. */
  decayEnd: number;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  maxNorm: number;
}

/** Per-step constants computed on the host in float64, as PyTorch does with Python floats. */
export interface AdamWConstants {
  /** `1 - lr · weightDecay`, the factor decayed parameters are multiplied by. */
  decay: number;
  /** `lr / (1 - beta1^step)`. */
  stepSize: number;
  /** `sqrt(1 - beta2^step)`. */
  bc2Sqrt: number;
}

/**
 * Checks the options (errors name `kernel` and the field) and computes the per-step constants.
 * @example
 * ```ts
 * adamwConstants("adamw", {
 *   length: 10, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1,
 *   decayEnd: 8, maxNorm: 1,
 * }); // { decay: 0.9999, stepSize: 0.01, bc2Sqrt: 0.0316… }
 * ```
 */
export function adamwConstants(kernel: string, opts: AdamWOptions): AdamWConstants {
  const { length, lr, beta1, beta2, eps, weightDecay, step, decayEnd, maxNorm } = opts;
  const check = (name: string, ok: boolean, expected: string, value: number) => {
    if (!ok) throw new RangeError(`${kernel}: ${name} must be ${expected}, got ${value}`);
  };
  check("length", Number.isInteger(length) && length >= 1, "an integer >= 1", length);
  check("step", Number.isInteger(step) && step >= 1, "an integer >= 1 (1 = first)", step);
  check(
    "decayEnd",
    Number.isInteger(decayEnd) && decayEnd >= 0 && decayEnd <= length,
    `an integer in [0, length = ${length}]`,
    decayEnd,
  );
  check("lr", lr >= 0 && Number.isFinite(lr), "finite and >= 0", lr);
  check("beta1", beta1 >= 0 && beta1 < 1, "in [0, 1)", beta1);
  check("beta2", beta2 >= 0 && beta2 < 1, "in [0, 1)", beta2);
  check("eps", eps >= 0 && Number.isFinite(eps), "finite and >= 0", eps);
  check("weightDecay", weightDecay >= 0 && Number.isFinite(weightDecay), ">= 0", weightDecay);
  check("maxNorm", maxNorm >= 0 && Number.isFinite(maxNorm), ">= 0 (0: no clipping)", maxNorm);
  return {
    decay: 1 - lr * weightDecay,
    stepSize: lr / (1 - beta1 ** step),
    bc2Sqrt: Math.sqrt(1 - beta2 ** step),
  };
}

/**
 * One AdamW step: with `clip = maxNorm > 0 ? min(1, maxNorm / (gradNorm[0] + 1e-6)) : 1` and
 * `g = grads[i] · clip`: `p *= 1 - lr·wd` (i < decayEnd), `m = β1 m + (1-β1) g`,
 * `v = β2 v + (1-β2) g²`, `p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)`.
 * `grads` is not modified.
 * @example
 * ```ts
 * const p = new Float64Array([1]), m = new Float64Array(1), v = new Float64Array(1);
 * adamwUpdate(p, new Float64Array([0.5]), m, v, new Float64Array([0.5]), {
 *   length: 1, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1,
 *   decayEnd: 0, maxNorm: 0,
 * }); // p ≈ [0.9]
 * ```
 */
export function adamwUpdate(
  params: Float64Array,
  grads: Float64Array,
  m: Float64Array,
  v: Float64Array,
  gradNorm: Float64Array,
  opts: AdamWOptions,
): void {
  const { decay, stepSize, bc2Sqrt } = adamwConstants("adamw", opts);
  const { length, beta1, beta2, eps, decayEnd, maxNorm } = opts;
  const clip = maxNorm > 0 ? Math.min(1, maxNorm / (gradNorm[0] + 1e-6)) : 1;
  for (let i = 0; i < length; i++) {
    const g = grads[i] * clip;
    if (i < decayEnd) params[i] *= decay;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    params[i] -= stepSize * m[i] / (Math.sqrt(v[i]) / bc2Sqrt + eps);
  }
}
