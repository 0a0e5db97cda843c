/**
 * `deno task train`: trains the projector heads on an embeddings file (open_clip-style flags).
 * `--help` documents every flag.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_TRAIN_OPTIONS, train, type TrainOptions } from "../train/trainer.ts";
import type { SchedulerKind } from "../train/schedule.ts";

const D = DEFAULT_TRAIN_OPTIONS;

/** Every flag: name, type, default and help text. */
const FLAGS = {
  "train-data": {
    type: "string",
    help: "embeddings file (safetensors: image, text, label, split, ids)",
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
export function parseTrainArgs(args: string[]): TrainOptions & { help: boolean } {
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
    quiet: values.quiet === true,
  };
}

if (import.meta.main) {
  try {
    const o = parseTrainArgs(Deno.args);
    if (o.help) {
      console.log(helpText());
      Deno.exit(0);
    }
    if (!o.trainData) throw new Error("--train-data is required (see --help)");
    const result = await train(o);
    console.log(`Done. Logs and checkpoints in ${result.logDir}`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
