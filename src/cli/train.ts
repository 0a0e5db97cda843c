/**
 * `deno task train`: the whole method from one command. With `--train-data` it trains on an
 * embeddings file; with `--dataset` it loads a dataset, embeds it with the frozen encoders (through
 * the cache), trains, and evaluates the raw encoder, the untrained and the trained head on the
 * test split (table, t-SNE, HTML report). With no arguments it runs the embedded SYNTHETIC demo.
 * open_clip-style flags; `--help` documents every one.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { type DatasetKind, DATASETS, loadDataset } from "../data/load_dataset.ts";
import { embedRecords } from "../encoders/embed_dataset.ts";
import { summarizeSkipped } from "../encoders/skipped_inputs.ts";
import { beforeAfter, writeRunReport } from "../eval/run_report.ts";
import { getGpu } from "../gpu/context.ts";
import { type EmbeddingSet, loadEmbeddings, saveEmbeddings, splitRows } from "../io/embeddings.ts";
import { DEFAULT_TRAIN_OPTIONS, train, type TrainOptions } from "../train/trainer.ts";
import type { SchedulerKind } from "../train/schedule.ts";

const D = DEFAULT_TRAIN_OPTIONS;

/** Every flag: name, type, default and help text. */
const FLAGS = {
  "train-data": {
    type: "string",
    help: "embeddings file (safetensors: image, text, label, split, ids)",
  },
  dataset: {
    type: "string",
    help: `${DATASETS.join(" | ")}: embed this dataset, then train (default: synthetic demo)`,
  },
  "data-dir": { type: "string", help: "where the dataset lives (see README, Data)" },
  "images-dir": { type: "string", help: "image folder, where the dataset layout differs" },
  "label-from-text": {
    type: "boolean",
    default: false,
    help: "r2gen: label normal/abnormal from the report text",
  },
  "synthetic-count": { type: "string", default: 2000, help: "studies in the synthetic demo set" },
  weights: {
    type: "string",
    help: "encoder weights folder (default weights/, weights/demo for synthetic)",
  },
  "cache-dir": { type: "string", default: ".cache/embeddings", help: "embedding cache" },
  strict: {
    type: "boolean",
    default: false,
    help: "fail on a bad dataset row, image or report, don't skip it",
  },
  "batch-size": { type: "string", default: D.batchSize, help: "pairs per step" },
  epochs: {
    type: "string",
    default: D.epochs,
    help: "epochs to train (a resumed run continues up to this)",
  },
  lr: { type: "string", default: D.lr, help: "peak learning rate" },
  wd: { type: "string", default: D.wd, help: "AdamW decoupled weight decay (weights only)" },
  warmup: { type: "string", default: D.warmup, help: "linear warmup steps" },
  "lr-scheduler": { type: "string", default: D.lrScheduler, help: "cosine | const (after warmup)" },
  beta1: { type: "string", default: D.optimizer.beta1, help: "AdamW beta1" },
  beta2: { type: "string", default: D.optimizer.beta2, help: "AdamW beta2" },
  eps: { type: "string", default: D.optimizer.eps, help: "AdamW epsilon" },
  "grad-clip-norm": {
    type: "string",
    default: D.optimizer.maxGradNorm,
    help: "global gradient-norm clip (0 = off)",
  },
  seed: { type: "string", default: D.seed, help: "seed of init, data order and dropout" },
  resume: { type: "string", help: "'latest' or a checkpoint path: continue exactly" },
  logs: { type: "string", default: D.logs, help: "root of log directories" },
  name: { type: "string", default: D.name, help: "run name: logs go to <logs>/<name>/" },
  "log-every-n-steps": {
    type: "string",
    default: D.logEveryNSteps,
    help: "steps between loss read-backs / log lines",
  },
  "save-frequency": {
    type: "string",
    default: D.saveFrequency,
    help: "write epoch_N.safetensors every N epochs (0 = off)",
  },
  "save-every-n-steps": {
    type: "string",
    default: D.saveEveryNSteps,
    help: "also update epoch_latest every N steps (0 = off)",
  },
  "w-clip": { type: "string", default: D.loss.wClip, help: "weight of the CLIP loss (0 = off)" },
  "w-supcon": {
    type: "string",
    default: D.loss.wSupcon,
    help: "weight of the supervised contrastive loss (0 = off)",
  },
  "w-bce": {
    type: "string",
    default: D.loss.wBce,
    help: "weight of the normal/abnormal BCE loss (0 = off)",
  },
  temperature: { type: "string", default: D.loss.temperature, help: "SupCon temperature" },
  hidden: { type: "string", default: D.head.hidden, help: "hidden width of the projector heads" },
  "out-dim": { type: "string", default: D.head.outDim, help: "projected embedding width" },
  layers: { type: "string", default: D.head.layers, help: "linear layers per head (>= 1)" },
  dropout: { type: "string", default: D.head.dropout, help: "dropout after each hidden GELU" },
  "val-metric": {
    type: "string",
    default: D.valMetric,
    help: "validation metric that picks best.safetensors",
  },
  "early-stopping": {
    type: "string",
    default: D.earlyStopping,
    help: "stop after N epochs without improvement (0 = off)",
  },
  "input-norm": {
    type: "string",
    default: D.inputNorm,
    help: "standard: standardize embeddings with train-split moments | none",
  },
  quiet: { type: "boolean", default: false, help: "print nothing" },
  help: { type: "boolean", default: false, help: "show this help" },
} as const;

/**
 * The `--help` text.
 * @example
 * ```ts
 * console.log(helpText());
 * ```
 */
export function helpText(): string {
  const lines = [
    "Usage: deno task train --train-data <embeddings.safetensors> [flags]",
    "",
    "Flags:",
  ];
  for (const [name, f] of Object.entries(FLAGS)) {
    const def = "default" in f ? ` (default ${f.default})` : "";
    lines.push(`  --${name.padEnd(20)} ${f.help}${def}`);
  }
  return lines.join("\n");
}

/**
 * Parses command-line flags into training options; errors name the flag.
 * @example
 * ```ts
 * const o = parseTrainArgs(["--train-data", "e.safetensors", "--epochs", "3"]);
 * ```
 */
export function parseTrainArgs(args: string[]): TrainOptions & CliOptions {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map((
      [k, f],
    ) => [k, {
      type: f.type,
      ...("default" in f && f.type === "boolean" ? { default: f.default } : {}),
    }]),
  ) as Record<string, { type: "string" | "boolean" }>;
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  const str = (k: keyof typeof FLAGS): string => {
    const f = FLAGS[k];
    const v = values[k] as string | undefined;
    return v ?? ("default" in f ? String(f.default) : "");
  };
  const num = (k: keyof typeof FLAGS): number => {
    const v = Number(str(k));
    if (str(k) === "" || !Number.isFinite(v)) {
      throw new Error(`--${k}: expected a number, got "${str(k)}"`);
    }
    return v;
  };
  return {
    help: values.help === true,
    explicit: new Set(Object.keys(values)),
    dataset: (values.dataset as DatasetKind | undefined) ?? null,
    dataDir: (values["data-dir"] as string | undefined) ?? null,
    imagesDir: values["images-dir"] as string | undefined,
    labelFromText: values["label-from-text"] === true,
    syntheticCount: num("synthetic-count"),
    weights: (values.weights as string | undefined) ?? null,
    cacheDir: str("cache-dir"),
    strict: values.strict === true,
    trainData: str("train-data"),
    batchSize: num("batch-size"),
    epochs: num("epochs"),
    lr: num("lr"),
    wd: num("wd"),
    warmup: num("warmup"),
    lrScheduler: str("lr-scheduler") as SchedulerKind,
    seed: num("seed"),
    resume: (values.resume as string | undefined) ?? null,
    logs: str("logs"),
    name: str("name"),
    logEveryNSteps: num("log-every-n-steps"),
    saveFrequency: num("save-frequency"),
    saveEveryNSteps: num("save-every-n-steps"),
    head: {
      hidden: num("hidden"),
      outDim: num("out-dim"),
      layers: num("layers"),
      dropout: num("dropout"),
    },
    loss: {
      wClip: num("w-clip"),
      wSupcon: num("w-supcon"),
      wBce: num("w-bce"),
      temperature: num("temperature"),
    },
    optimizer: {
      beta1: num("beta1"),
      beta2: num("beta2"),
      eps: num("eps"),
      maxGradNorm: num("grad-clip-norm"),
    },
    valMetric: str("val-metric"),
    earlyStopping: num("early-stopping"),
    inputNorm: str("input-norm") as TrainOptions["inputNorm"],
    quiet: values.quiet === true,
  };
}

/** Flags beyond the trainer's: where the data comes from. */
export interface CliOptions {
  /** `--help`. */
  help: boolean;
  /** Flags given on the command line. */
  explicit: Set<string>;
  /** `--dataset`, or null. */
  dataset: DatasetKind | null;
  /** `--data-dir`, or null. */
  dataDir: string | null;
  /** `--images-dir`. */
  imagesDir?: string;
  /** `--label-from-text`. */
  labelFromText: boolean;
  /** `--synthetic-count`. */
  syntheticCount: number;
  /** `--weights`, or null. */
  weights: string | null;
  /** `--cache-dir`. */
  cacheDir: string;
  /** `--strict`. */
  strict: boolean;
}

/**
 * The demo's defaults, for flags not given: small heads and batches fit the small synthetic set
 * and a CPU-only machine.
 */
const DEMO_DEFAULTS: Record<string, (o: TrainOptions) => void> = {
  name: (o) => o.name = "demo",
  "batch-size": (o) => o.batchSize = 64,
  epochs: (o) => o.epochs = 30,
  warmup: (o) => o.warmup = 10,
  lr: (o) => o.lr = 2e-3,
  hidden: (o) => o.head = { ...o.head, hidden: 256 },
  "out-dim": (o) => o.head = { ...o.head, outDim: 128 },
};

/**
 * Turns options without data (no `--train-data`, no `--dataset`) into the SYNTHETIC demo's:
 * `--dataset synthetic` and the demo's defaults for every flag not given; returns whether it did.
 * @example
 * ```ts
 * const o = parseTrainArgs(["--out-dim", "64"]);
 * applyDemoDefaults(o); // true: o.head.hidden 256 (demo), o.head.outDim 64 (given)
 * ```
 */
export function applyDemoDefaults(o: TrainOptions & CliOptions): boolean {
  if (o.trainData || o.dataset) return false;
  o.dataset = "synthetic";
  for (const [flag, set] of Object.entries(DEMO_DEFAULTS)) if (!o.explicit.has(flag)) set(o);
  return true;
}

/**
 * Runs the pipeline the flags describe; returns the printed before/after table (or null when
 * the data has no test split).
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { saveEmbeddings } from "../io/embeddings.ts";
 * if (await tryGetGpu()) { // training runs on WebGPU
 *   const dir = await Deno.makeTempDir();
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   await saveEmbeddings(`${dir}/e.safetensors`, syntheticEmbeddings(o));
 *   // `deno task train` without flags runs the whole SYNTHETIC demo instead.
 *   const flags = ["--train-data", `${dir}/e.safetensors`, "--epochs", "2", "--batch-size", "16"];
 *   // Prints and returns the table: raw encoder, untrained and trained head on the test split.
 *   const table = await runTrain(parseTrainArgs([...flags, "--logs", dir, "--quiet"]));
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function runTrain(o: TrainOptions & CliOptions): Promise<string | null> {
  const demo = applyDemoDefaults(o);
  if (demo) {
    console.log(
      "SYNTHETIC demo: generated chest-radiograph-like images and templated reports, random-weight " +
        "demo encoders (weights/demo). Not medical data; it shows the method working end to end.",
    );
  }
  const logDir = join(o.logs, o.name);
  await Deno.mkdir(logDir, { recursive: true });
  let set: EmbeddingSet;
  let datasetName: string;
  let skippedSummary = "";
  if (o.trainData) {
    set = await loadEmbeddings(o.trainData as string);
    datasetName = o.trainData as string;
  } else {
    const dataset = o.dataset!;
    const dataDir = o.dataDir ??
      (dataset === "synthetic" ? join(".cache", "demo", "synthetic") : null);
    if (!dataDir) throw new Error(`--dataset ${dataset} needs --data-dir (see --help)`);
    const weightsDir = o.weights ?? (dataset === "synthetic" ? "weights/demo" : "weights");
    const t0 = performance.now();
    const { records, problems } = await loadDataset({
      dataset,
      dataDir,
      imagesDir: o.imagesDir,
      labelFromText: o.labelFromText,
      seed: o.seed,
      syntheticCount: o.syntheticCount,
      strict: o.strict,
    });
    console.log(
      `${dataset}: ${records.length} studies (${problems.length} rows skipped) ` +
        `in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const embedded = await embedRecords(records, {
      weightsDir,
      cacheDir: o.cacheDir,
      strict: o.strict,
    });
    skippedSummary = summarizeSkipped(embedded.skipped, embedded.dropped, embedded.set.count);
    console.log(
      `embedded ${embedded.embedded.images} images and ${embedded.embedded.reports} reports ` +
        `(the rest from the cache ${o.cacheDir})`,
    );
    set = embedded.set;
    datasetName = dataset === "synthetic" ? "SYNTHETIC demo set" : `${dataset} (${dataDir})`;
    o.trainData = join(logDir, "embeddings.safetensors");
    await saveEmbeddings(o.trainData, set);
  }
  const result = await train({ ...o, trainData: set });
  // Again after training, where it is not scrolled away by the training log.
  if (skippedSummary) console.warn(skippedSummary);
  if (splitRows(set, "test").length < 2) {
    console.log(`Done. No test split to evaluate. Logs and checkpoints in ${result.logDir}`);
    return null;
  }
  const gpu = await getGpu();
  const ba = await beforeAfter(
    gpu,
    set,
    result.head,
    result.params,
    result.inputNorm,
    o.seed,
    "test",
  );
  const { explicit: _, help: __, ...config } = o;
  const table = await writeRunReport(
    result.logDir,
    ba,
    result.history,
    set,
    datasetName,
    config,
    demo
      ? [
        "SYNTHETIC demo: images are drawn by a generator and the encoders have random weights. " +
        "The numbers show that the method learns; they say nothing about real chest X-rays.",
      ]
      : [],
  );
  console.log(
    `\nRetrieval on the ${ba.split} split (${ba.count} pairs), before and after training:\n${table}`,
  );
  console.log(
    `\nReport: ${join(result.logDir, "report.html")}; checkpoints in ${
      join(result.logDir, "checkpoints")
    }`,
  );
  return table;
}

if (import.meta.main) {
  try {
    const o = parseTrainArgs(Deno.args);
    if (o.help) {
      console.log(helpText());
      Deno.exit(0);
    }
    await runTrain(o);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
