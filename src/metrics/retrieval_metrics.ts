/**
 * Retrieval metrics with open_clip's names, from the rank of each query's paired item
 * (0 = retrieved first).
 *
 * @module
 */

/** Metrics by name, e.g. `image_to_text_R@1`. */
export type Metrics = Record<string, number>;

/** The recall cut-offs reported. */
export const RECALL_AT = [1, 5, 10] as const;

/**
 * `<prefix>_mean_rank`, `<prefix>_median_rank` (1-based, as open_clip) and `<prefix>_R@k`, from
 * 0-based ranks under the caller's tie rule (the evaluation's: `TIE_RULE` in `ranks.ts`).
 * @example
 * ```ts
 * rankMetrics(new Uint32Array([0, 3, 20]), "image_to_text");
 * // { image_to_text_mean_rank: 9, image_to_text_median_rank: 4, "image_to_text_R@1": 0.333…, … }
 * ```
 */
export function rankMetrics(ranks: ArrayLike<number>, prefix: string): Metrics {
  const n = ranks.length;
  if (n === 0) throw new Error(`${prefix}: no queries to evaluate`);
  const sorted = Float64Array.from(ranks).sort();
  const out: Metrics = {};
  out[`${prefix}_mean_rank`] = sorted.reduce((a, r) => a + r + 1, 0) / n;
  // open_clip: np.floor(np.median(ranks)) + 1 (the mean of the two middle ranks when n is even).
  const median = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  out[`${prefix}_median_rank`] = Math.floor(median) + 1;
  for (const k of RECALL_AT) out[`${prefix}_R@${k}`] = sorted.filter((r) => r < k).length / n;
  return out;
}

/** The label-precision cut-offs reported. */
export const LABEL_PRECISION_AT = [5, 10] as const;

/**
 * `<prefix>_label_P@k`: over all queries, the mean share of the top k results whose label
 * (normal/abnormal) equals the query's; `top` holds each query's best `topK` indices, best first,
 * and query i has label `labels[i]` like candidate i.
 * @example
 * ```ts
 * labelPrecision(new Uint32Array([1, 0]), 1, new Int32Array([0, 0]), "image_to_text");
 * ```
 */
export function labelPrecision(
  top: Uint32Array,
  topK: number,
  labels: Int32Array,
  prefix: string,
): Metrics {
  const n = top.length / topK;
  const out: Metrics = {};
  for (const k of LABEL_PRECISION_AT.filter((k) => k <= topK)) {
    let sum = 0;
    for (let q = 0; q < n; q++) {
      let same = 0;
      for (let j = 0; j < k; j++) if (labels[top[q * topK + j]] === labels[q]) same++;
      sum += same / k;
    }
    out[`${prefix}_label_P@${k}`] = sum / n;
  }
  return out;
}
