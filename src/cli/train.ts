/**
 * `deno task train`: the whole method from one command. With `--train-data` it trains on an
 * embeddings file; with `--dataset` it loads a dataset, embeds it with the frozen encoders (through
 * the cache), trains, and evaluates the raw encoder, the untrained and the trained head on the
 * test split (table, t-SNE, HTML report). With no arguments it runs the embedded SYNTHETIC demo.
 * open_clip-style flags; `--help` documents every one. The flags become `runPipeline`'s options
 * (src/pipeline/); this file parses them and prints what the pipeline found.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { type DatasetKind, DATASETS } from "../data/load_dataset.ts";
import { parseEncoderRuntime } from "../encoders/onnx_runtime.ts";
import { DEFAULT_PIPELINE_OPTIONS, type PipelineInput } from "../pipeline/options.ts";
import { runPipeline } from "../pipeline/run_pipeline.ts";
import type { TrainOptions } from "../train/trainer.ts";
import type { SchedulerKind } from "../train/schedule.ts";

const D = DEFAULT_PIPELINE_OPTIONS;

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
  "synthetic-count": {
    type: "string",
    default: D.syntheticCount,
    help: "studies in the synthetic demo set",
  },
  weights: {
    type: "string",
    help: "encoder weights folder (default weights/, weights/demo for synthetic)",
  },
  "cache-dir": { type: "string", default: D.cacheDir, help: "embedding cache" },
  "encoder-runtime": {
    type: "string",
    default: D.encoderRuntime,
    help: "auto | native | wasm | webgpu: where the encoders run (auto: native where it loads)",
  },
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
 * Parses command-line flags into pipeline options; a flag not given stays undefined, so that
 * `pipelineOptions` fills it (with the demo's default when no data is named). Errors name the
 * flag.
 * @example
 * ```ts
 * const o = parseTrainArgs(["--train-data", "e.safetensors", "--epochs", "3"]);
 * // o.epochs 3, o.batchSize undefined (runPipeline takes the default, 256)
 * ```
 */
export function parseTrainArgs(args: string[]): PipelineInput & { help: boolean } {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map(([k, f]) => [k, { type: f.type }]),
  ) as Record<string, { type: "string" | "boolean" }>;
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  const str = (k: keyof typeof FLAGS) => values[k] as string | undefined;
  const bool = (k: keyof typeof FLAGS) => values[k] as boolean | undefined;
  const num = (k: keyof typeof FLAGS): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    if (v === "" || !Number.isFinite(Number(v))) {
      throw new Error(`--${k}: expected a number, got "${v}"`);
    }
    return Number(v);
  };
  return {
    help: values.help === true,
    dataset: str("dataset") as DatasetKind | undefined,
    dataDir: str("data-dir"),
    imagesDir: str("images-dir"),
    labelFromText: bool("label-from-text"),
    syntheticCount: num("synthetic-count"),
    weights: str("weights"),
    cacheDir: str("cache-dir"),
    encoderRuntime: str("encoder-runtime") === undefined
      ? undefined
      : parseEncoderRuntime(str("encoder-runtime")!),
    strict: bool("strict"),
    trainData: str("train-data"),
    batchSize: num("batch-size"),
    epochs: num("epochs"),
    lr: num("lr"),
    wd: num("wd"),
    warmup: num("warmup"),
    lrScheduler: str("lr-scheduler") as SchedulerKind | undefined,
    seed: num("seed"),
    resume: str("resume"),
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
    inputNorm: str("input-norm") as TrainOptions["inputNorm"] | undefined,
    quiet: bool("quiet"),
  };
}

if (import.meta.main) {
  try {
    const { help, ...given } = parseTrainArgs(Deno.args);
    if (help) {
      console.log(helpText());
      Deno.exit(0);
    }
    const { training, evaluation, table, skipped } = await runPipeline(given, {
      log: (line) => console.log(line),
    });
    // After training, where it is not scrolled away by the training log.
    if (skipped) console.warn(skipped);
    if (!evaluation) {
      console.log(`Done. No test split to evaluate. Logs and checkpoints in ${training.logDir}`);
    } else {
      console.log(
        `\nRetrieval on the ${evaluation.split} split (${evaluation.count} pairs), before and ` +
          `after training:\n${table}`,
      );
      console.log(
        `\nReport: ${join(training.logDir, "report.html")}; checkpoints in ${
          join(training.logDir, "checkpoints")
        }`,
      );
    }
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
