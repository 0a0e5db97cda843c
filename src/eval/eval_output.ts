/**
 * What `deno task eval` shows and keeps: a markdown table with a row per model (both directions,
 * and screening for checkpoints) and `eval.json` with every metric of every row.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { EvalResult } from "./evaluate_models.ts";
import { metricCell } from "./seed_stats.ts";

/** The table's columns: header and metric name (every metric is in `eval.json`). */
export const TABLE_COLUMNS: readonly (readonly [string, string])[] = [
  ...(["image_to_text", "text_to_image"] as const).flatMap((d) => {
    const short = d === "image_to_text" ? "I→T" : "T→I";
    return [
      [`${short} R@1`, `${d}_R@1`],
      [`${short} R@5`, `${d}_R@5`],
      [`${short} R@10`, `${d}_R@10`],
      [`${short} MRR`, `${d}_MRR`],
      [`${short} label P@10`, `${d}_label_P@10`],
      [`${short} label mAP@10`, `${d}_label_mAP@10`],
      [`${short} label nDCG@10`, `${d}_label_nDCG@10`],
      [`${short} findings mAP@10`, `${d}_findings_mAP@10`],
      [`${short} findings nDCG@10`, `${d}_findings_nDCG@10`],
    ] as const;
  }),
  ["image acc", "image_screening_accuracy"],
  ["image AUROC", "image_screening_AUROC"],
  ["report acc", "text_screening_accuracy"],
  ["report AUROC", "text_screening_AUROC"],
];

/**
 * The markdown table of {@link TABLE_COLUMNS}, a row per model in `result.rows` order; a metric a
 * row lacks (screening without a trained classifier) is `–`, a column no row has (findings metrics
 * without finding labels, screening without checkpoints) is left out, and a row of several seeds
 * shows `mean ± std`.
 * @example
 * ```ts
 * const table = evalTable({
 *   definitions: "cxr-eval/1", tieRule: "pessimistic", unit: "study", embeddings: "e.safetensors",
 *   synthetic: true, split: "test", count: 2, relevance: ["label"], screeningThreshold: 0.5,
 *   notes: [], rows: [{ name: "no head (text-…)", kind: "encoder", source: "", metrics: {} }],
 * });
 * table.split("\n").length; // 3: header, rule, one row
 * ```
 */
export function evalTable(result: EvalResult): string {
  const columns = TABLE_COLUMNS.filter(([, m]) => result.rows.some((r) => m in r.metrics));
  const cells = [
    ["model", ...columns.map(([h]) => h)],
    ...result.rows.map((r) => [r.name, ...columns.map(([, m]) => metricCell(r, m))]),
  ];
  const widths = cells[0].map((_, j) => Math.max(3, ...cells.map((row) => row[j].length)));
  const line = (row: string[]) =>
    `| ${row.map((c, j) => j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j])).join(" | ")} |`;
  const rule = `| ${
    widths.map((w, j) => j === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":").join(" | ")
  } |`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join("\n");
}

/**
 * Writes `result` as `dir/eval.json` atomically (creating `dir`); returns the file's path.
 * NaN metrics (a class missing from the split) are written as null.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeEvalJson(dir, {
 *   definitions: "cxr-eval/1", tieRule: "pessimistic", unit: "study", embeddings: "e.safetensors",
 *   synthetic: true, split: "test", count: 2, relevance: ["label"], screeningThreshold: 0.5,
 *   notes: [], rows: [],
 * }); // `${dir}/eval.json`
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeEvalJson(dir: string, result: EvalResult): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, "eval.json");
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(result, null, 2) + "\n"));
  return path;
}
