/**
 * Initial parameters: PyTorch's nn.Linear default (weights and biases uniform in ±1/√fan_in)
 * from our seeded generator, and CLIP's initial logit scale ln(1/0.07).
 *
 * @module
 */

import { Rng } from "../util/rng.ts";
import type { ParameterLayout } from "./parameters.ts";

/** CLIP's initial temperature 0.07, as a log scale. */
export const INITIAL_LOGIT_SCALE = Math.log(1 / 0.07);

/**
 * Fresh flat parameters for `layout`, deterministic in `seed`.
 * @example
 * ```ts
 * import { ParameterLayout } from "./parameters.ts";
 * const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 * const params = initialParameters(new ParameterLayout(head), 42); // the same for the same seed
 * ```
 */
export function initialParameters(
  layout: ParameterLayout,
  seed: number,
): Float32Array<ArrayBuffer> {
  const rng = new Rng(seed);
  const flat = new Float32Array(layout.length);
  for (const e of layout.entries) {
    if (e.name === "logit_scale") {
      flat[e.offset] = INITIAL_LOGIT_SCALE;
      continue;
    }
    // fan_in: rows of an [in, out] weight; a bias uses its layer's weight's fan_in.
    const weight = e.name.endsWith(".bias") ? layout.get(e.name.replace(/bias$/, "weight")) : e;
    const bound = 1 / Math.sqrt(weight.shape[0]);
    for (let i = 0; i < e.length; i++) flat[e.offset + i] = (2 * rng.uniform() - 1) * bound;
  }
  return flat;
}
