/**
 * `results.jsonl`: one flat JSON line per evaluation, as open_clip writes it, so scripts written
 * for open_clip read it: `{"epoch": 3, "step": 45, "train_loss": 1.2, "image_to_text_R@1": …}`.
 * Besides the metrics, a line holds `epoch` (epochs finished; 0 is before training), `step`
 * (optimizer steps done) and, after training epochs, `train_loss` (the epoch's mean loss).
 *
 * @module
 */

import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";

/** One evaluation, as the trainer keeps it (`results.jsonl` holds it flat). */
export interface EpochResult {
  /** Epochs finished (0 = before training). */
  epoch: number;
  /** Optimizer steps done. */
  step: number;
  /** Mean training loss of the epoch (absent at epoch 0). */
  trainLoss?: number;
  /** Validation metrics. */
  val: Metrics;
}

/**
 * The `results.jsonl` line of one evaluation (without the newline).
 * @example
 * ```ts
 * resultLine({ epoch: 1, step: 9, trainLoss: 2, val: { "image_to_text_R@1": 0.5 } });
 * // '{"epoch":1,"step":9,"train_loss":2,"image_to_text_R@1":0.5}'
 * ```
 */
export function resultLine(r: EpochResult): string {
  const loss = r.trainLoss === undefined ? {} : { train_loss: r.trainLoss };
  return JSON.stringify({ epoch: r.epoch, step: r.step, ...loss, ...r.val });
}

/**
 * Parses one `results.jsonl` line; `where` (file and line) names it in errors. Lines written
 * before the format was flat (metrics nested under `val`) are read too.
 * @example
 * ```ts
 * parseResultLine('{"epoch":0,"step":0,"image_to_text_R@1":0.1}', "results.jsonl:1");
 * // { epoch: 0, step: 0, val: { "image_to_text_R@1": 0.1 } }
 * ```
 */
export function parseResultLine(line: string, where: string): EpochResult {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  if (typeof x !== "object" || x === null || Array.isArray(x)) {
    throw new Error(`${where}: not a JSON object`);
  }
  const { epoch, step, train_loss, trainLoss, val, ...rest } = x as Record<string, unknown>;
  for (const [k, n] of [["epoch", epoch], ["step", step]] as const) {
    if (!Number.isSafeInteger(n) || (n as number) < 0) {
      throw new Error(`${where}: "${k}" must be an integer >= 0, is ${JSON.stringify(n)}`);
    }
  }
  const loss = train_loss ?? trainLoss;
  if (loss !== undefined && typeof loss !== "number") {
    throw new Error(`${where}: "train_loss" must be a number, is ${JSON.stringify(loss)}`);
  }
  const metrics = typeof val === "object" && val !== null ? val as Record<string, unknown> : rest;
  for (const [k, v] of Object.entries(metrics)) {
    // JSON writes a NaN metric as null.
    if (typeof v !== "number" && v !== null) {
      throw new Error(`${where}: metric "${k}" must be a number, is ${JSON.stringify(v)}`);
    }
  }
  return {
    epoch: epoch as number,
    step: step as number,
    ...(loss === undefined ? {} : { trainLoss: loss }),
    val: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, (v ?? NaN) as number])),
  };
}

/**
 * Reads `results.jsonl` (no file: no results); errors name the file and line.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/results.jsonl`, '{"epoch":0,"step":0,"mean_recall":0.1}\n');
 * await readResults(`${dir}/results.jsonl`); // [{ epoch: 0, step: 0, val: { mean_recall: 0.1 } }]
 * await readResults(`${dir}/missing.jsonl`); // []
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readResults(path: string): Promise<EpochResult[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").flatMap((l, i) =>
    l.trim() ? [parseResultLine(l, `${path}:${i + 1}`)] : []
  );
}

/**
 * Replaces `results.jsonl` with these results, atomically.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/results.jsonl`;
 * const history = [0, 1, 2, 3].map((epoch) => ({ epoch, step: 9 * epoch, val: {} }));
 * await writeResults(path, history.filter((h) => h.epoch <= 2)); // resuming from epoch 2
 * (await readResults(path)).length; // 3
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeResults(path: string, results: readonly EpochResult[]): Promise<void> {
  const text = results.map((r) => resultLine(r) + "\n").join("");
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

/**
 * Appends one result to `results.jsonl`.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/results.jsonl`;
 * await appendResult(path, { epoch: 0, step: 0, val: { mean_recall: 0.1 } });
 * await appendResult(path, { epoch: 1, step: 9, trainLoss: 2.5, val: { mean_recall: 0.3 } });
 * await Deno.readTextFile(path);
 * // two lines: {"epoch":0,"step":0,"mean_recall":0.1}
 * // and {"epoch":1,"step":9,"train_loss":2.5,"mean_recall":0.3}
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendResult(path: string, r: EpochResult): Promise<void> {
  await Deno.writeTextFile(path, resultLine(r) + "\n", { append: true });
}
