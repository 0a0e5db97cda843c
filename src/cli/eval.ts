/**
 * `deno task eval`: compares the pretrained encoders' embeddings (no head: the main file's and each
 * baseline's, the same collection embedded by other encoders) with trained checkpoints on one
 * split, per study or per image, prints a markdown table (a row per model, both directions,
 * screening for checkpoints) and writes `eval.json` with every metric. The embeddings come from
 * files, or from a dataset embedded through the cache by each `--weights` folder. `--ablate`
 * trains the paper's four loss configurations first and adds their rows; `--seeds N` trains each
 * configuration (the full one without `--ablate`) with N seeds and reports mean ± std. Beside
 * `eval.json` it writes `report.html` with the charts (their PNGs beside it).
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { type DatasetKind, DATASETS } from "../data/load_dataset.ts";
import {
  ABLATION_CONFIGS,
  type AblationBudget,
  type AblationGroup,
  FULL_CONFIG,
  trainAblation,
} from "../eval/ablation.ts";
import { EVAL_UNITS, type EvalUnit } from "../eval/eval_inputs.ts";
import { evalTable, writeEvalJson } from "../eval/eval_output.ts";
import { splitSummaries } from "../eval/report_html.ts";
import { evalTsnePanels } from "../eval/tsne_panels.ts";
import { writeEvalReport } from "../eval/eval_report.ts";
import {
  type BaselineSpec,
  checkpointName,
  type CheckpointSpec,
  type EvalResult,
  evaluate,
} from "../eval/evaluate_models.ts";
import { collapseSeeds, type SeedGroup } from "../eval/seed_stats.ts";
import { getGpu } from "../gpu/context.ts";
import {
  type EmbeddingSet,
  loadEmbeddings,
  saveEmbeddings,
  SPLIT_CODES,
  type SplitName,
} from "../io/embeddings.ts";
import { datasetRecords, defaultWeights, embedWith } from "../pipeline/dataset_embeddings.ts";
import { DEFAULT_PIPELINE_OPTIONS, DEMO_OPTIONS } from "../pipeline/options.ts";

const USAGE =
  `usage: deno task eval --embeddings <embeddings.safetensors> [--baseline <other.safetensors> ...]
       | --dataset <${DATASETS.join("|")}> [--data-dir <path>] --weights <dir> [--weights <dir> ...]
       [--checkpoint <ckpt.safetensors> ...] [--logs <logs/>] [--split test] [--unit study|image]
       [--out logs/eval] [--tsne-checkpoint <row>] [--ablate] [--seeds N] [--seed 0] [--epochs E] [--batch-size B]
  --logs adds every <logs>/<run>/checkpoints/best.safetensors, named by its run
  --baseline: the same collection embedded by other encoders (matched by study id): a no-head row
  --dataset embeds through the cache with each --weights folder; the first is the main one
    (checkpoints are evaluated on it, saved as <out>/embeddings.safetensors), the others are
    baselines; also --images-dir, --cache-dir .cache/embeddings, --synthetic-count 2000,
    --label-from-text
  --unit image: every image is a query (default study: one mean image per study)
  --tsne-checkpoint: the checkpoint row whose t-SNE pictures the report shows (default: the first)
  --seed: the run's seed, as deno task train's: it assigns a dataset's splits and is the first
    training seed of --ablate / --seeds
  --ablate trains CLIP, CLIP+SupCon, CLIP+BCE and CLIP+SupCon+BCE on the train split with the
    same budget (runs in <out>/ablation/, reused when finished) and adds a row for each
  --seeds N trains each of them (without --ablate: CLIP+SupCon+BCE) with seeds --seed … --seed+N-1
    and shows mean ± sample std
  --epochs, --batch-size: the budget of those runs (default: deno task train's, the SYNTHETIC
    demo's for a file marked synthetic); the other training options are its defaults too`;

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

/** The integer value of `--<flag>`, at least `min`; undefined when not given. */
function intFlag(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new Error(`--${flag} ${value}: expected an integer >= ${min}`);
  }
  return n;
}

/**
 * The training options of `--ablate` / `--seeds` runs: `deno task train`'s defaults for this data
 * (the SYNTHETIC demo's for a file marked synthetic, as the demo checkpoint was trained), with
 * the epochs and batch size given.
 */
function budgetFor(set: EmbeddingSet, epochs?: number, batchSize?: number): AblationBudget {
  const d = set.metadata.synthetic === "true" ? DEMO_OPTIONS : DEFAULT_PIPELINE_OPTIONS;
  return {
    epochs: epochs ?? d.epochs,
    batchSize: batchSize ?? d.batchSize,
    lr: d.lr,
    wd: d.wd,
    warmup: d.warmup,
    lrScheduler: d.lrScheduler,
    head: d.head,
    optimizer: d.optimizer,
    valMetric: d.valMetric,
    inputNorm: d.inputNorm,
  };
}

/**
 * What `--ablate`, `--seeds`, `--seed`, `--epochs` and `--batch-size` ask to train: the
 * configurations and seeds, and the budget given; null: nothing to train.
 */
function trainingPlan(values: {
  ablate: boolean;
  seeds?: string;
  seed?: string;
  epochs?: string;
  "batch-size"?: string;
}) {
  const seeds = intFlag(values.seeds, "seeds", 1), first = intFlag(values.seed, "seed", 0) ?? 0;
  const epochs = intFlag(values.epochs, "epochs", 1);
  const batchSize = intFlag(values["batch-size"], "batch-size", 1);
  if (!values.ablate && seeds === undefined) {
    for (const flag of ["epochs", "batch-size"] as const) {
      if (values[flag] !== undefined) throw new Error(`--${flag} needs --ablate or --seeds`);
    }
    return null;
  }
  return {
    configs: values.ablate ? ABLATION_CONFIGS : [FULL_CONFIG],
    seeds: Array.from({ length: seeds ?? 1 }, (_, k) => first + k),
    epochs,
    batchSize,
  };
}

/**
 * A configuration's runs as one row: named `ablation: <config>` under `--ablate`, with the seed
 * count when several; its source names every seed's checkpoint (`seed-{0,1,2}`).
 */
function seedGroup(g: AblationGroup, ablate: boolean): SeedGroup {
  const several = g.seeds.length > 1;
  return {
    name: `${ablate ? "ablation: " : ""}${g.config.name}${
      several ? ` (${g.seeds.length} seeds)` : ""
    }`,
    source: join(
      g.dir,
      `seed-${several ? `{${g.seeds.join(",")}}` : g.seeds[0]}`,
      "checkpoints",
      "best.safetensors",
    ),
    sources: g.checkpoints.map((c) => c.path),
  };
}

/** The note that says how the configurations were trained and with which weights. */
function trainingNote(groups: AblationGroup[], budget: AblationBudget): string {
  const seeds = groups[0].seeds;
  const weights = groups.map(({ config: { name, loss } }) =>
    `${name} (w_clip ${loss.wClip}, w_supcon ${loss.wSupcon}, w_bce ${loss.wBce})`
  );
  return `trained here on the train split, best epoch by validation ${budget.valMetric}, each ` +
    `${budget.epochs} epochs of batch ${budget.batchSize}, lr ${budget.lr}, seeds ` +
    `${seeds.join(", ")}; SupCon temperature ${groups[0].config.loss.temperature}; ` +
    `${weights.join(", ")}; ± is the sample standard deviation over seeds (n − 1)`;
}

/**
 * Parses `args`, evaluates, writes `eval.json` and `report.html` (with its PNGs) into `--out`
 * (default `logs/eval`) and returns the result with its table. Training runs of `--ablate` / `--seeds` tell their progress to `log`.
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
export async function runEval(
  args: string[],
  log: (line: string) => void = () => {},
): Promise<EvalRun> {
  const { values } = parseArgs({
    args,
    options: {
      embeddings: { type: "string" },
      checkpoint: { type: "string", multiple: true, default: [] },
      logs: { type: "string" },
      split: { type: "string", default: "test" },
      out: { type: "string", default: join("logs", "eval") },
      "tsne-checkpoint": { type: "string" },
      ablate: { type: "boolean", default: false },
      seeds: { type: "string" },
      epochs: { type: "string" },
      "batch-size": { type: "string" },
      unit: { type: "string", default: "study" },
      baseline: { type: "string", multiple: true, default: [] },
      dataset: { type: "string" },
      "data-dir": { type: "string" },
      "images-dir": { type: "string" },
      weights: { type: "string", multiple: true, default: [] },
      "cache-dir": { type: "string", default: DEFAULT_PIPELINE_OPTIONS.cacheDir },
      seed: { type: "string", default: String(DEFAULT_PIPELINE_OPTIONS.seed) },
      "synthetic-count": {
        type: "string",
        default: String(DEFAULT_PIPELINE_OPTIONS.syntheticCount),
      },
      "label-from-text": { type: "boolean", default: false },
    },
  });
  if (!values.embeddings === !values.dataset) {
    throw new Error(`give --embeddings or --dataset (one of them)\n${USAGE}`);
  }
  if (!(values.split in SPLIT_CODES)) {
    throw new Error(`--split ${values.split}: expected one of ${Object.keys(SPLIT_CODES)}`);
  }
  if (!(EVAL_UNITS as readonly string[]).includes(values.unit)) {
    throw new Error(`--unit ${values.unit}: expected one of ${EVAL_UNITS.join(", ")}`);
  }
  if (values.dataset && !(DATASETS as readonly string[]).includes(values.dataset)) {
    throw new Error(`--dataset ${values.dataset}: expected one of ${DATASETS.join(", ")}`);
  }
  if (values.dataset && values.baseline.length > 0) {
    throw new Error("--baseline goes with --embeddings; with --dataset give more --weights");
  }
  if (values.embeddings && values.weights.length > 0) {
    throw new Error("--weights goes with --dataset; with --embeddings give --baseline files");
  }
  if (values.embeddings) await requireFile(values.embeddings, "--embeddings");
  for (const path of values.baseline) await requireFile(path, "--baseline");
  const checkpoints: CheckpointSpec[] = [];
  for (const path of values.checkpoint) {
    await requireFile(path, "--checkpoint");
    checkpoints.push({ name: checkpointName(path), path });
  }
  if (values.logs) checkpoints.push(...await runsUnder(values.logs));
  const plan = trainingPlan(values);
  const sets: BaselineSpec[] = [];
  let mainFile = values.embeddings;
  if (values.dataset) {
    const dataset = values.dataset as DatasetKind;
    const o = {
      dataset,
      dataDir: values["data-dir"] ?? null,
      imagesDir: values["images-dir"],
      labelFromText: values["label-from-text"],
      syntheticCount: Number(values["synthetic-count"]),
      seed: Number(values.seed),
      cacheDir: values["cache-dir"],
      strict: false,
    };
    const { records, dataDir } = await datasetRecords(o, log);
    for (const weights of values.weights.length ? values.weights : [defaultWeights(dataset)]) {
      const { set, skipped } = await embedWith(records, weights, o, log);
      if (skipped) log(skipped);
      sets.push({ set, source: `${dataset} (${dataDir}) embedded with ${weights}` });
    }
    if (plan) { // the training runs read the main embeddings from a file, as deno task train does
      mainFile = join(values.out, "embeddings.safetensors");
      await Deno.mkdir(values.out, { recursive: true });
      await saveEmbeddings(mainFile, sets[0].set);
    }
  } else {
    for (const path of [values.embeddings!, ...values.baseline]) {
      sets.push({ set: await loadEmbeddings(path), source: path });
    }
  }
  const [main, ...baselines] = sets;
  const gpu = await getGpu();
  const budget = budgetFor(main.set, plan?.epochs, plan?.batchSize);
  const groups = plan
    ? await trainAblation(mainFile!, { ...plan, out: values.out, budget, log, gpu })
    : [];
  checkpoints.push(...groups.flatMap((g) => g.checkpoints));
  const evaluated = await evaluate(gpu, main.set, main.source, {
    split: values.split as SplitName,
    checkpoints,
    unit: values.unit as EvalUnit,
    baselines,
  });
  const notes = groups.length ? [trainingNote(groups, budget)] : [];
  const result = collapseSeeds(
    { ...evaluated, notes: [...evaluated.notes, ...notes] },
    groups.map((g) => seedGroup(g, values.ablate)),
  );
  const path = await writeEvalJson(values.out, result);
  const tsne = await evalTsnePanels(gpu, main.set, result, {
    checkpoint: values["tsne-checkpoint"],
    findings: main.set.studies?.map((s) => s.findings),
  });
  const report = await writeEvalReport(values.out, result, {
    splits: splitSummaries(main.set),
    tsne,
  });
  return { result, table: evalTable(result), path, report };
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  try {
    const { result, table, path, report } = await runEval(Deno.args, console.log);
    const what = result.synthetic ? "SYNTHETIC " : "";
    const images = result.images === undefined ? "" : `, ${result.images} images (per image)`;
    console.log(
      `${what}${result.embeddings}, ${result.split} split, ${result.count} studies${images}:\n`,
    );
    console.log(table);
    for (const note of result.notes) console.log(`note: ${note}`);
    console.log(`wrote ${path} and ${report}`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
