/**
 * `deno task eval`: compares the pretrained encoder's embeddings (no head) with trained
 * checkpoints on one split of an embeddings file, prints a markdown table (a row per model, both
 * directions, screening for checkpoints) and writes `eval.json` with every metric and
 * `report.html` with the charts (their PNGs beside it).
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { evalTable, writeEvalJson } from "../eval/eval_output.ts";
import { writeEvalReport } from "../eval/eval_report.ts";
import {
  checkpointName,
  type CheckpointSpec,
  type EvalResult,
  evaluate,
} from "../eval/evaluate_models.ts";
import { splitSummaries } from "../eval/report_html.ts";
import { evalTsnePanels } from "../eval/tsne_panels.ts";
import { getGpu } from "../gpu/context.ts";
import { loadEmbeddings, SPLIT_CODES, type SplitName } from "../io/embeddings.ts";

const USAGE = `usage: deno task eval --embeddings <embeddings.safetensors>
       [--checkpoint <ckpt.safetensors> ...] [--logs <logs/>] [--split test] [--out logs/eval]
       [--tsne-checkpoint <row>]
  --logs adds every <logs>/<run>/checkpoints/best.safetensors, named by its run
  --tsne-checkpoint: the checkpoint row whose t-SNE pictures the report shows (default: the first)`;

/** What {@link runEval} produced. */
export interface EvalRun {
  /** Every metric of every row. */
  result: EvalResult;
  /** The markdown table printed. */
  table: string;
  /** Path of `eval.json`. */
  path: string;
  /** Path of `report.html`. */
  report: string;
}

/** Throws `<path>: no such file (<flag>)` unless `path` is a file. */
async function requireFile(path: string, flag: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info?.isFile) throw new Error(`${path}: no such file (${flag})`);
}

/** Every `<logs>/<run>/checkpoints/best.safetensors`, by run name. */
async function runsUnder(logs: string): Promise<CheckpointSpec[]> {
  const entries = await Array.fromAsync(Deno.readDir(logs)).catch((e) => {
    throw new Error(`${logs}: cannot read the logs folder (${(e as Error).message}) (--logs)`);
  });
  const specs: CheckpointSpec[] = [];
  for (const e of entries.filter((e) => e.isDirectory).sort((a, b) => a.name < b.name ? -1 : 1)) {
    const path = join(logs, e.name, "checkpoints", "best.safetensors");
    if ((await Deno.stat(path).catch(() => null))?.isFile) specs.push({ name: e.name, path });
  }
  if (specs.length === 0) {
    throw new Error(`${logs}: no <run>/checkpoints/best.safetensors in it (--logs)`);
  }
  return specs;
}

/**
 * Parses `args`, evaluates, writes `eval.json` and `report.html` (with its PNGs) into `--out`
 * (default `logs/eval`) and returns the result with its table.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { saveEmbeddings } from "../io/embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * if (await tryGetGpu()) { // the metrics run on WebGPU
 *   const dir = await Deno.makeTempDir();
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   await saveEmbeddings(`${dir}/e.safetensors`, syntheticEmbeddings(o)); // SYNTHETIC
 *   const { table } = await runEval(["--embeddings", `${dir}/e.safetensors`, "--out", dir]);
 *   console.log(table); // one row: no head (…)
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function runEval(args: string[]): Promise<EvalRun> {
  const { values } = parseArgs({
    args,
    options: {
      embeddings: { type: "string" },
      checkpoint: { type: "string", multiple: true, default: [] },
      logs: { type: "string" },
      split: { type: "string", default: "test" },
      out: { type: "string", default: join("logs", "eval") },
      "tsne-checkpoint": { type: "string" },
    },
  });
  if (!values.embeddings) throw new Error(`--embeddings is required\n${USAGE}`);
  if (!(values.split in SPLIT_CODES)) {
    throw new Error(`--split ${values.split}: expected one of ${Object.keys(SPLIT_CODES)}`);
  }
  await requireFile(values.embeddings, "--embeddings");
  const checkpoints: CheckpointSpec[] = [];
  for (const path of values.checkpoint) {
    await requireFile(path, "--checkpoint");
    checkpoints.push({ name: checkpointName(path), path });
  }
  if (values.logs) checkpoints.push(...await runsUnder(values.logs));
  const set = await loadEmbeddings(values.embeddings);
  const gpu = await getGpu();
  const result = await evaluate(gpu, set, values.embeddings, {
    split: values.split as SplitName,
    checkpoints,
  });
  const path = await writeEvalJson(values.out, result);
  const tsne = await evalTsnePanels(gpu, set, result, { checkpoint: values["tsne-checkpoint"] });
  const report = await writeEvalReport(values.out, result, { splits: splitSummaries(set), tsne });
  return { result, table: evalTable(result), path, report };
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  try {
    const { result, table, path, report } = await runEval(Deno.args);
    const what = result.synthetic ? "SYNTHETIC " : "";
    console.log(`${what}${result.embeddings}, ${result.split} split, ${result.count} studies:\n`);
    console.log(table);
    for (const note of result.notes) console.log(`note: ${note}`);
    console.log(`wrote ${path} and ${report}`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
