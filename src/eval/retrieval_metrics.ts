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
 * `<prefix>_mean_rank`, `<prefix>_median_rank` (1-based, as open_clip) and `<prefix>_R@k`.
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
  out[`${prefix}_median_rank`] = Math.floor(sorted[Math.floor((n - 1) / 2)]) + 1;
  for (const k of RECALL_AT) out[`${prefix}_R@${k}`] = sorted.filter((r) => r < k).length / n;
  return out;
}
