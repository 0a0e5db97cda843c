/**
 * The before/after metrics table for the terminal.
 *
 * @module
 */

import { formatMetric, metricOrder } from "./metric_format.ts";

/**
 * The before/after metrics as a fixed-width text table for the terminal: one row per metric,
 * one right-aligned column per model.
 * @example
 * ```ts
 * console.log(metricsTable({
 *   "untrained head": { "image_to_text_R@1": 0.01 },
 *   "trained head": { "image_to_text_R@1": 0.2 },
 * }));
 * // metric             untrained head  trained head
 * // image_to_text_R@1          0.0100        0.2000
 * ```
 */
export function metricsTable(columns: Record<string, Record<string, number>>): string {
  const names = Object.keys(columns);
  const rows = metricOrder(Object.values(columns));
  const cells = rows.map((r) => names.map((c) => formatMetric(r, columns[c][r])));
  const first = Math.max("metric".length, ...rows.map((r) => r.length));
  const widths = names.map((c, j) => Math.max(c.length, ...cells.map((row) => row[j].length)));
  const line = (label: string, values: string[]) =>
    [label.padEnd(first), ...values.map((v, j) => v.padStart(widths[j]))].join("  ").trimEnd();
  return [line("metric", names), ...rows.map((r, i) => line(r, cells[i]))].join("\n");
}
