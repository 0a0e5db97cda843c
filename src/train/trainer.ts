/**
 * The trainer: uploads a dataset's frozen embeddings once, then runs epochs of
 * `gather → forward → loss → backward → clip → update` entirely on the GPU, several steps per
 * submit, reading back only the loss terms every `logEveryNSteps` steps; validates each epoch on
 * the GPU, keeps the best checkpoint, and resumes bit for bit from any checkpoint.
 *
 * @module
 */

import { join } from "node:path";
import type { GpuContext } from "../gpu/context.ts";
import { describeGpu, getGpu } from "../gpu/context.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import {
  type EmbeddingSet,
  loadEmbeddings,
  selectRows,
  splitRows,
  validateEmbeddings,
} from "../io/embeddings.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import {
  DEFAULT_HEAD,
  DEFAULT_LOSS,
  type HeadConfig,
  type LossConfig,
  validateHeadConfig,
} from "../model/config.ts";
import { initialParameters } from "../model/init.ts";
import { type InputNorm, moments, standardize } from "../model/input_norm.ts";
import {
  DEFAULT_OPTIMIZER,
  LOSS_TERMS,
  mix32,
  type OptimizerConfig,
  TrainGraph,
} from "../model/train_graph.ts";
import { type GpuHeads, projectRows } from "../model/projector.ts";
import { retrievalMetrics } from "../metrics/evaluate.ts";
import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { Rng } from "../util/rng.ts";
import {
  assertSameHead,
  type Checkpoint,
  loadCheckpoint,
  saveCheckpoint,
  type TrainPosition,
} from "../model/checkpoint.ts";
import { Progress } from "../util/progress.ts";
import { assertResumable, normDifference } from "./resume.ts";
import { appendResult, type EpochResult, readResults, writeResults } from "./results_log.ts";
import { learningRate, type SchedulerKind } from "./schedule.ts";

export type { EpochResult } from "./results_log.ts";

/** Everything a training run is configured by (the CLI flags). */
export interface TrainOptions {
  /** Embeddings file (safetensors) or an already loaded set. */
  trainData: string | EmbeddingSet;
  /** Pairs per step. */
  batchSize: number;
  /** Epochs to train up to (a resumed run continues up to this). */
  epochs: number;
  /** Peak learning rate. */
  lr: number;
  /** Decoupled weight decay. */
  wd: number;
  /** Warmup steps. */
  warmup: number;
  /** Schedule after warmup. */
  lrScheduler: SchedulerKind;
  /** Seed of initialization, data order and dropout. */
  seed: number;
  /** `latest`, a checkpoint path, or null. */
  resume: string | null;
  /** Root of the log directories. */
  logs: string;
  /** Run name: logs go to `<logs>/<name>/`. */
  name: string;
  /** Steps between loss read-backs and log lines. */
  logEveryNSteps: number;
  /** Write `epoch_N.safetensors` every this many epochs (0: only latest and best). */
  saveFrequency: number;
  /** Also write `epoch_latest.safetensors` every this many steps inside an epoch (0: off). */
  saveEveryNSteps: number;
  /** Projector heads (inDim comes from the data). */
  head: Omit<HeadConfig, "inDim">;
  /** Loss weights and SupCon temperature. */
  loss: LossConfig;
  /** AdamW betas, eps and gradient clipping (weight decay comes from `wd`). */
  optimizer: Omit<OptimizerConfig, "weightDecay">;
  /** Validation metric that selects the best checkpoint. */
  valMetric: string;
  /** Stop after this many epochs without improvement (0: never). */
  earlyStopping: number;
  /** `standard`: standardize embeddings with the training split's moments; `none`: as they are. */
  inputNorm: "standard" | "none";
  /** Print nothing (the module API's callers watch `onProgress`). */
  quiet: boolean;
}

/** Defaults of every option but `trainData`. */
export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, "trainData"> = {
  batchSize: 256,
  epochs: 10,
  lr: 1e-3,
  wd: DEFAULT_OPTIMIZER.weightDecay,
  warmup: 50,
  lrScheduler: "cosine",
  seed: 0,
  resume: null,
  logs: "logs",
  name: "run",
  logEveryNSteps: 10,
  saveFrequency: 1,
  saveEveryNSteps: 0,
  head: {
    hidden: DEFAULT_HEAD.hidden,
    outDim: DEFAULT_HEAD.outDim,
    layers: DEFAULT_HEAD.layers,
    dropout: DEFAULT_HEAD.dropout,
  },
  loss: DEFAULT_LOSS,
  optimizer: {
    beta1: DEFAULT_OPTIMIZER.beta1,
    beta2: DEFAULT_OPTIMIZER.beta2,
    eps: DEFAULT_OPTIMIZER.eps,
    maxGradNorm: DEFAULT_OPTIMIZER.maxGradNorm,
  },
  valMetric: "mean_recall",
  earlyStopping: 0,
  inputNorm: "standard",
  quiet: false,
};

/** A progress report, sent after each read-back. */
export interface TrainProgress {
  /** Current epoch (0-based). */
  epoch: number;
  /** Optimizer steps done. */
  step: number;
  /** Steps of the whole run. */
  totalSteps: number;
  /** Mean weighted total loss of the steps since the last report. */
  loss: number;
  /** Mean loss terms since the last report. */
  terms: Record<(typeof LOSS_TERMS)[number], number>;
  /** Training throughput. */
  samplesPerSecond: number;
  /** Seconds left, estimated. */
  etaSeconds: number;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** Final head configuration. */
  head: HeadConfig;
  /** Parameters of the best epoch (flat, our layout). */
  params: Float32Array<ArrayBuffer>;
  /** Input standardization of the heads. */
  inputNorm: InputNorm;
  /** Validation metrics of the best epoch. */
  best: Metrics;
  /** Every evaluated epoch. */
  history: EpochResult[];
  /** `<logs>/<name>`. */
  logDir: string;
  /** Whether early stopping ended the run. */
  stoppedEarly: boolean;
}

/** Thrown when a loss becomes NaN or infinite; the last good checkpoint is kept. */
export class DivergedError extends Error {
  /**
   * @param step the optimizer step whose loss was not finite
   * @param detail the loss terms
   */
  constructor(readonly step: number, detail: string) {
    super(
      `training diverged: non-finite loss at step ${step} (${detail}); the last good checkpoint is kept`,
    );
    this.name = "DivergedError";
  }
}

/** Mean of image-to-text and text-to-image R@1, R@5, R@10: the default model-selection metric. */
function withMeanRecall(m: Metrics): Metrics {
  const keys = Object.keys(m).filter((k) => k.includes("_R@"));
  return { ...m, mean_recall: keys.reduce((a, k) => a + m[k], 0) / keys.length };
}

/**
 * Trains the projector heads. Logs go to `<logs>/<name>/` (`params.json`, `results.jsonl` with
 * one flat line per evaluation, `out.log`, `checkpoints/`).
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   const set = syntheticEmbeddings(o); // SYNTHETIC frozen-encoder embeddings
 *   const logs = await Deno.makeTempDir();
 *   const losses: number[] = [];
 *   // trainData: an embeddings file (`deno task embed`) or a set in memory.
 *   const result = await train({ trainData: set, batchSize: 16, epochs: 2, logs, quiet: true }, {
 *     onProgress: (p) => losses.push(p.loss),
 *     gpu,
 *   });
 *   result.best.mean_recall; // of the best epoch on the validation split
 *   await Deno.remove(logs, { recursive: true });
 * }
 * ```
 */
export async function train(
  options: Partial<TrainOptions> & Pick<TrainOptions, "trainData">,
  hooks: { onProgress?: (p: TrainProgress) => void; gpu?: GpuContext } = {},
): Promise<TrainResult> {
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...options };
  const set = typeof o.trainData === "string" ? await loadEmbeddings(o.trainData) : o.trainData;
  const source = typeof o.trainData === "string" ? o.trainData : "trainData";
  if (typeof o.trainData !== "string") validateEmbeddings(set, source);
  const head: HeadConfig = { inDim: set.dim, ...o.head };
  validateHeadConfig(head);
  validateOptions(o);
  const trainRows = splitRows(set, "train"), valRows = splitRows(set, "validation");
  if (trainRows.length === 0) throw new Error(`${source}: no training rows (split 0)`);
  if (valRows.length === 0) {
    throw new Error(`${source}: no validation rows (split 1); validation runs every epoch`);
  }
  if (o.batchSize > trainRows.length) {
    throw new Error(
      `--batch-size ${o.batchSize} is larger than the ${trainRows.length} training rows of ${source}`,
    );
  }
  const B = o.batchSize;
  const stepsPerEpoch = Math.floor(trainRows.length / B);
  const totalSteps = stepsPerEpoch * o.epochs;
  const logDir = join(o.logs, o.name), ckptDir = join(logDir, "checkpoints");
  await Deno.mkdir(ckptDir, { recursive: true });
  const log = openLog(join(logDir, "out.log"), o.quiet);

  const resumePath = o.resume === "latest" ? join(ckptDir, "epoch_latest.safetensors") : o.resume;
  const resumed = resumePath ? await loadCheckpoint(resumePath) : null;
  let inputNorm = inputNormFor(set, trainRows, o.inputNorm);
  if (resumed && resumePath) {
    assertSameHead(resumed.head, head, resumePath);
    assertResumable(resumed.config, o, resumePath);
    if (!resumed.m || !resumed.v) {
      throw new Error(`${resumePath}: has no optimizer state; cannot resume from it`);
    }
    const drift = normDifference(resumed.inputNorm, inputNorm);
    if (drift > 0) {
      await log(
        `Resuming with the input statistics stored in ${resumePath}, not those of this data's ` +
          `train split (they differ by up to ${drift.toPrecision(3)}: the data changed)`,
      );
    }
    inputNorm = resumed.inputNorm;
  }
  const gpu = hooks.gpu ?? await getGpu();
  await log(describeGpu(gpu.info));
  const data = {
    image: gpu.storage(standardize(set.image, inputNorm.image), "dataset images"),
    text: gpu.storage(standardize(set.text, inputNorm.text), "dataset texts"),
    label: gpu.storage(set.label, "dataset labels"),
  };
  const optimizer: OptimizerConfig = { ...o.optimizer, weightDecay: o.wd };
  const slots = Math.max(1, Math.min(o.logEveryNSteps, stepsPerEpoch));
  // Two halves of loss slots: one chunk is read back while the next one runs.
  const graph = new TrainGraph(gpu, head, o.loss, optimizer, B, data, stepsPerEpoch, 2 * slots);
  const config = configRecord(o, head, set, source);

  let position: TrainPosition = {
    epoch: 0,
    stepInEpoch: 0,
    optimizerStep: 0,
    best: { metric: o.valMetric, value: -Infinity, epoch: -1 },
    epochsWithoutImprovement: 0,
  };
  let params = initialParameters(graph.layout, o.seed);
  let m = new Float32Array(graph.layout.length), v = new Float32Array(graph.layout.length);
  const resultsPath = join(logDir, "results.jsonl");
  const history: EpochResult[] = [];
  if (resumed) {
    ({ params, m, v, position } = resumed as Required<Checkpoint>);
    await log(
      `Resuming from ${resumePath} at epoch ${position.epoch}, step ${position.optimizerStep}`,
    );
    // Results of epochs after the checkpoint's are trained again: drop their lines.
    history.push(...(await readResults(resultsPath)).filter((h) => h.epoch <= position.epoch));
  }
  await writeResults(resultsPath, history);
  await writeFileAtomic(
    join(logDir, "params.json"),
    new TextEncoder().encode(JSON.stringify(config, null, 2)),
  );
  gpu.write(graph.params, params);
  gpu.write(graph.m, m);
  gpu.write(graph.v, v);

  const heads: GpuHeads = { head, layout: graph.layout, params: graph.params };
  const logitScale = graph.layout.view(graph.params, "logit_scale");
  const valData = {
    image: gpu.storage(
      standardize(selectRows(set.image, valRows, set.dim), inputNorm.image),
      "val images",
    ),
    text: gpu.storage(
      standardize(selectRows(set.text, valRows, set.dim), inputNorm.text),
      "val texts",
    ),
  };
  const valLabels = Int32Array.from(valRows, (r) => set.label[r]);
  const evaluate = async () => {
    const zi = await projectRows(gpu, heads, "image", valData.image, valRows.length);
    const zt = await projectRows(gpu, heads, "text", valData.text, valRows.length);
    const metrics = withMeanRecall(
      await retrievalMetrics(gpu, zi, zt, valRows.length, head.outDim, logitScale, valLabels),
    );
    zi.buffer.destroy();
    zt.buffer.destroy();
    return metrics;
  };
  const record = async (r: EpochResult) => {
    history.push(r);
    await appendResult(resultsPath, r);
    await log(
      `Eval Epoch: ${r.epoch} ` +
        Object.entries(r.val).map(([k, x]) => `${k}: ${x.toFixed(4)}`).join("\t"),
    );
  };
  if (position.optimizerStep === 0 && position.epoch === 0) {
    await record({ epoch: 0, step: 0, val: await evaluate() });
  }

  const snapshot = async (): Promise<Checkpoint> => {
    const [p, mm, vv] = await gpu.readMany([graph.params, graph.m, graph.v]);
    return {
      head,
      config,
      inputNorm,
      position: structuredClone(position),
      params: p,
      m: mm,
      v: vv,
    };
  };
  const progress = o.quiet || !Deno.stderr.isTerminal()
    ? null
    : new Progress("train", totalSteps * B, "samples");
  const t0 = performance.now(), step0 = position.optimizerStep;
  let stoppedEarly = false;
  for (let epoch = position.epoch; epoch < o.epochs && !stoppedEarly; epoch++) {
    graph.setEpochIndex(epochOrder(o.seed, epoch, trainRows, stepsPerEpoch * B));
    let epochLoss = 0, epochSteps = 0;
    let inFlight: {
      read: Promise<ArrayBuffer[]>;
      n: number;
      half: number;
      varying: Dispatch[];
      first: number;
    } | null = null;
    const drain = async () => {
      if (!inFlight) return;
      const { read, n, half, varying, first } = inFlight;
      inFlight = null;
      const [losses] = await read;
      gpu.recycle(varying);
      const values = new Float32Array(losses);
      const sums = { clip: 0, supcon: 0, bce: 0 };
      let total = 0;
      for (let k = 0; k < n; k++) {
        const slot = half * slots + k;
        const terms = LOSS_TERMS.map((_, j) => values[(slot * LOSS_TERMS.length + j) * 64]);
        const weighted = o.loss.wClip * terms[0] + o.loss.wSupcon * terms[1] +
          o.loss.wBce * terms[2];
        if (!Number.isFinite(weighted)) {
          throw new DivergedError(
            first + k,
            LOSS_TERMS.map((t, j) => `${t} ${terms[j]}`).join(", "),
          );
        }
        LOSS_TERMS.forEach((t, j) => sums[t] += terms[j] / n);
        total += weighted / n;
      }
      epochLoss += total * n;
      epochSteps += n;
      const done = first + n - 1;
      const elapsed = (performance.now() - t0) / 1000;
      const rate = ((done - step0) * B) / elapsed;
      const report: TrainProgress = {
        epoch,
        step: done,
        totalSteps,
        loss: total,
        terms: sums,
        samplesPerSecond: rate,
        etaSeconds: ((totalSteps - done) * B) / rate,
      };
      hooks.onProgress?.(report);
      progress?.update(done * B);
      const inEpoch = done - epoch * stepsPerEpoch;
      await log(
        `Train Epoch: ${epoch} [${String(inEpoch * B).padStart(7)}/${stepsPerEpoch * B} ` +
          `(${((100 * inEpoch) / stepsPerEpoch).toFixed(0)}%)] ${rate.toFixed(1)}/s ` +
          `LR: ${
            learningRate(o.lrScheduler, o.lr, o.warmup, totalSteps, done - 1).toExponential(3)
          } ` +
          `Clip_loss: ${sums.clip.toFixed(4)} Supcon_loss: ${sums.supcon.toFixed(4)} ` +
          `Bce_loss: ${sums.bce.toFixed(4)} Loss: ${total.toFixed(4)}`,
        true,
      );
    };
    let half = 0;
    while (position.stepInEpoch < stepsPerEpoch) {
      let n = Math.min(slots, stepsPerEpoch - position.stepInEpoch);
      if (o.saveEveryNSteps > 0) {
        n = Math.min(n, o.saveEveryNSteps - (position.optimizerStep % o.saveEveryNSteps));
      }
      const commands = [];
      const varying: Dispatch[] = [];
      for (let k = 0; k < n; k++) {
        const s = position.optimizerStep + k;
        const built = graph.step({
          stepInEpoch: position.stepInEpoch + k,
          optimizerStep: s + 1,
          lr: learningRate(o.lrScheduler, o.lr, o.warmup, totalSteps, s),
          seed: mix32(o.seed, s),
          slot: half * slots + k,
        });
        commands.push(...built.commands);
        varying.push(...built.varying);
      }
      gpu.submit(commands);
      await drain(); // the previous chunk's losses, while this chunk runs
      inFlight = {
        read: gpu.readBytes([graph.losses]),
        n,
        half,
        varying,
        first: position.optimizerStep + 1,
      };
      half = 1 - half;
      position.stepInEpoch += n;
      position.optimizerStep += n;
      if (
        o.saveEveryNSteps > 0 && position.optimizerStep % o.saveEveryNSteps === 0 &&
        position.stepInEpoch < stepsPerEpoch
      ) {
        await drain();
        await saveCheckpoint(join(ckptDir, "epoch_latest.safetensors"), await snapshot());
      }
    }
    await drain();
    position.epoch = epoch + 1;
    position.stepInEpoch = 0;
    const val = await evaluate();
    const value = val[o.valMetric];
    if (value === undefined) {
      throw new Error(`--val-metric ${o.valMetric} is not one of ${Object.keys(val).join(", ")}`);
    }
    const improved = value > position.best.value;
    if (improved) position.best = { metric: o.valMetric, value, epoch: epoch + 1 };
    position.epochsWithoutImprovement = improved ? 0 : position.epochsWithoutImprovement + 1;
    await record({
      epoch: epoch + 1,
      step: position.optimizerStep,
      trainLoss: epochLoss / epochSteps,
      val,
    });
    const c = await snapshot();
    if (improved) await saveCheckpoint(join(ckptDir, "best.safetensors"), c);
    if (o.saveFrequency > 0 && (epoch + 1) % o.saveFrequency === 0) {
      await saveCheckpoint(join(ckptDir, `epoch_${epoch + 1}.safetensors`), c);
    }
    await saveCheckpoint(join(ckptDir, "epoch_latest.safetensors"), c);
    if (o.earlyStopping > 0 && position.epochsWithoutImprovement >= o.earlyStopping) {
      await log(`Early stopping: ${o.valMetric} has not improved for ${o.earlyStopping} epochs`);
      stoppedEarly = true;
    }
  }
  progress?.done();
  const bestPath = join(ckptDir, "best.safetensors");
  const best = await loadCheckpoint(bestPath).catch(() => null);
  const bestEpoch = history.find((h) => h.epoch === position.best.epoch) ??
    history[history.length - 1];
  return {
    head,
    inputNorm,
    params: best?.params ?? (await gpu.read(graph.params)),
    best: bestEpoch?.val ?? {},
    history,
    logDir,
    stoppedEarly,
  };
}

/** The run's input standardization: train-split moments, or the identity for `none`. */
function inputNormFor(
  set: EmbeddingSet,
  trainRows: Uint32Array,
  kind: TrainOptions["inputNorm"],
): InputNorm {
  if (kind !== "standard" && kind !== "none") {
    throw new Error(`input-norm must be standard or none, got ${kind}`);
  }
  const of = (values: Float32Array) =>
    kind === "standard" ? moments(values, set.dim, trainRows) : {
      mean: new Float32Array(set.dim),
      std: new Float32Array(set.dim).fill(1),
    };
  return { image: of(set.image), text: of(set.text) };
}

function validateOptions(o: TrainOptions): void {
  const positiveInts = ["batchSize", "epochs", "logEveryNSteps"] as const;
  for (const k of positiveInts) {
    if (!Number.isInteger(o[k]) || o[k] < 1) {
      throw new Error(`${k} must be an integer >= 1, got ${o[k]}`);
    }
  }
  for (
    const k of ["warmup", "saveFrequency", "saveEveryNSteps", "earlyStopping", "seed"] as const
  ) {
    if (!Number.isInteger(o[k]) || o[k] < 0) {
      throw new Error(
        `${k} must be an integer >= 0, got ${o[k]}`,
      );
    }
  }
  if (!(o.lr > 0)) throw new Error(`lr must be > 0, got ${o.lr}`);
  if (!(o.wd >= 0)) throw new Error(`wd must be >= 0, got ${o.wd}`);
  if (o.lrScheduler !== "cosine" && o.lrScheduler !== "const") {
    throw new Error(`lr-scheduler must be cosine or const, got ${o.lrScheduler}`);
  }
  const { wClip, wSupcon, wBce, temperature } = o.loss;
  for (const [k, w] of Object.entries({ wClip, wSupcon, wBce })) {
    if (!(w >= 0)) throw new Error(`${k} must be >= 0, got ${w}`);
  }
  if (wClip + wSupcon + wBce <= 0) throw new Error("at least one loss weight must be > 0");
  if (!(temperature > 0)) throw new Error(`temperature must be > 0, got ${temperature}`);
}

/** The run's configuration as recorded in params.json and checkpoints. */
function configRecord(o: TrainOptions, head: HeadConfig, set: EmbeddingSet, source: string) {
  const { trainData: _, quiet: __, ...flags } = o;
  return { ...flags, trainData: source, head, dataset: { count: set.count, dim: set.dim } };
}

/** The rows of epoch `epoch`: a seeded shuffle of the training rows, cut to whole batches. */
function epochOrder(
  seed: number,
  epoch: number,
  trainRows: Uint32Array,
  take: number,
): Uint32Array {
  const perm = new Rng(mix32(seed, 0x5eed0000 + epoch)).permutation(trainRows.length);
  const order = new Uint32Array(take);
  for (let i = 0; i < take; i++) order[i] = trainRows[perm[i]];
  return order;
}

/**
 * A logger appending to `path`; it also prints, unless `quiet`. Lines marked `frequent` print
 * only when stderr is not a terminal (on a terminal the progress bar stands for them).
 */
function openLog(path: string, quiet: boolean) {
  const enc = new TextEncoder();
  const tty = Deno.stderr.isTerminal();
  return async (line: string, frequent = false) => {
    await Deno.writeFile(path, enc.encode(line + "\n"), { append: true, create: true });
    if (!quiet && (!frequent || !tty)) console.log(line);
  };
}
