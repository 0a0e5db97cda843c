/**
 * Several training seeds of one configuration shown as one row: each metric's mean over the
 * seeds, its sample standard deviation (n − 1 in the denominator) and every seed's values, and the
 * table cell `mean ± std`.
 *
 * @module
 */

import type { Metrics } from "../metrics/retrieval_metrics.ts";
import type { EvalResult, EvalRow } from "./evaluate_models.ts";
import { formatMetric } from "./metric_format.ts";

/**
 * Each metric's mean over `perSeed` and, with two seeds or more, its sample standard deviation
 * (divided by n − 1). Only the metrics every seed has are kept; a NaN in any seed makes that
 * metric's mean and std NaN. Throws when `perSeed` is empty.
 * @example
 * ```ts
 * const { mean, std } = meanStd([{ "image_to_text_R@1": 0.5 }, { "image_to_text_R@1": 0.7 }]);
 * mean["image_to_text_R@1"]; // 0.6
 * std!["image_to_text_R@1"]; // 0.1414… = √(((0.5 − 0.6)² + (0.7 − 0.6)²) / (2 − 1))
 * ```
 */
export function meanStd(perSeed: readonly Metrics[]): { mean: Metrics; std?: Metrics } {
  if (perSeed.length === 0) throw new Error("meanStd: no seed's metrics given");
  const n = perSeed.length;
  const names = Object.keys(perSeed[0]).filter((k) => perSeed.every((m) => k in m));
  const mean: Metrics = {}, std: Metrics = {};
  for (const k of names) {
    const mu = perSeed.reduce((a, m) => a + m[k], 0) / n;
    mean[k] = mu;
    std[k] = Math.sqrt(perSeed.reduce((a, m) => a + (m[k] - mu) ** 2, 0) / (n - 1));
  }
  return n >= 2 ? { mean, std } : { mean };
}

/** The checkpoints of one configuration's seeds, to show as one row. */
export interface SeedGroup {
  /** Row name, e.g. `ablation: CLIP (3 seeds)`. */
  name: string;
  /** Row source, e.g. `…/clip/seed-{0,1,2}/checkpoints/best.safetensors`. */
  source: string;
  /** Each seed's checkpoint path (its row's `source`), in seed order. */
  sources: readonly string[];
}

/**
 * `result` with the rows of each group (found by their checkpoint paths) replaced by one row where
 * the group's first row was: `metrics` the mean, `std` the sample std (two seeds or more),
 * `perSeed` each seed's metrics in `sources` order, `seeds` their number. Throws, naming the path,
 * when a group's checkpoint has no row.
 * @example
 * ```ts
 * const row = (source: string, r1: number) =>
 *   ({ name: source, kind: "checkpoint" as const, source, metrics: { "image_to_text_R@1": r1 } });
 * const result = {
 *   definitions: "cxr-eval/1", tieRule: "pessimistic", unit: "study" as const, embeddings: "e",
 *   synthetic: true, split: "test" as const, count: 2, relevance: ["label"],
 *   screeningThreshold: 0.5, notes: [], rows: [row("a", 0.5), row("b", 0.7)],
 * };
 * const g = { name: "CLIP (2 seeds)", source: "seed-{0,1}", sources: ["a", "b"] };
 * const [clip] = collapseSeeds(result, [g]).rows;
 * clip.metrics["image_to_text_R@1"]; // 0.6, with clip.std, clip.perSeed and clip.seeds (2)
 * ```
 */
export function collapseSeeds(result: EvalResult, groups: readonly SeedGroup[]): EvalResult {
  const rows: EvalRow[] = [...result.rows];
  for (const g of groups) {
    const members = g.sources.map((path) => {
      // From the end: the seeds' rows follow any checkpoint given by hand, even the same file.
      const row = rows.findLast((r) => r.kind === "checkpoint" && r.source === path);
      if (!row) throw new Error(`${path}: no evaluated row for this checkpoint of ${g.name}`);
      return row;
    });
    const perSeed = members.map((r) => r.metrics);
    const { mean, std } = meanStd(perSeed);
    const merged: EvalRow = {
      name: g.name,
      kind: "checkpoint",
      source: g.source,
      metrics: mean,
      ...(std ? { std } : {}),
      seeds: members.length,
      perSeed,
    };
    rows.splice(rows.indexOf(members[0]), 1, merged);
    for (const m of members.slice(1)) rows.splice(rows.indexOf(m), 1);
  }
  return { ...result, rows };
}

/**
 * The table cell of metric `name` in `row`: its value as {@link formatMetric} writes it, followed by
 * ` ± std` for a row of several seeds; `–` when the row lacks the metric.
 * @example
 * ```ts
 * const metrics = { "image_to_text_label_P@10": 0.6123 };
 * metricCell({ name: "a", kind: "checkpoint", source: "", metrics }, "image_to_text_label_P@10");
 * // "0.6123"
 * const std = { "image_to_text_label_P@10": 0.0131 };
 * metricCell({ name: "b", kind: "checkpoint", source: "", metrics, std }, "image_to_text_label_P@10");
 * // "0.6123 ± 0.0131"
 * ```
 */
export function metricCell(row: EvalRow, name: string): string {
  const value = formatMetric(name, row.metrics[name]);
  const spread = row.std?.[name];
  return spread === undefined ? value : `${value} ± ${formatMetric(name, spread)}`;
}
