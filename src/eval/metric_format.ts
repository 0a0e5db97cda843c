/**
 * How metrics are shown, in the HTML report and in the terminal table alike: their order, their
 * precision and which direction is better.
 *
 * @module
 */

import { type Metrics, RECALL_AT } from "../metrics/retrieval_metrics.ts";

const DIRECTIONS = ["image_to_text", "text_to_image"] as const;

/**
 * Metric names in report order: per direction R@1, R@5, R@10, mean rank, median rank; then every
 * other name in first-seen order.
 * @example
 * ```ts
 * metricOrder([{ mean_recall: 0.3, "text_to_image_R@1": 0.1, "image_to_text_R@1": 0.2 }]);
 * // ["image_to_text_R@1", "text_to_image_R@1", "mean_recall"]
 * ```
 */
export function metricOrder(tables: Metrics[]): string[] {
  const seen = new Set(tables.flatMap((t) => Object.keys(t)));
  const canonical = DIRECTIONS.flatMap((d) => [
    ...RECALL_AT.map((k) => `${d}_R@${k}`),
    `${d}_mean_rank`,
    `${d}_median_rank`,
  ]);
  return [
    ...canonical.filter((k) => seen.has(k)),
    ...[...seen].filter((k) => !canonical.includes(k)),
  ];
}

/**
 * A metric value as text: ranks with one decimal (median as an integer), everything else (recalls,
 * losses) with four.
 * @example
 * ```ts
 * formatMetric("image_to_text_mean_rank", 12.345); // "12.3"
 * formatMetric("image_to_text_R@1", 0.123456); // "0.1235"
 * ```
 */
export function formatMetric(name: string, value: number | undefined): string {
  if (value === undefined) return "–";
  if (!Number.isFinite(value)) return String(value);
  if (name.endsWith("median_rank")) return value.toFixed(0);
  if (name.endsWith("_rank")) return value.toFixed(1);
  return value.toFixed(4);
}

/**
 * Whether a lower value of the metric is better (ranks, losses).
 * @example
 * ```ts
 * lowerIsBetter("image_to_text_mean_rank"); // true
 * lowerIsBetter("image_to_text_R@1"); // false
 * ```
 */
export function lowerIsBetter(name: string): boolean {
  return /rank|loss/.test(name);
}
