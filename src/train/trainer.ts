/**
 * The trainer: uploads a dataset's frozen embeddings once, then runs epochs of
 * `gather → forward → loss → backward → clip → update` entirely on the GPU, several steps per
 * submit, reading back only the loss terms every `logEveryNSteps` steps; validates each epoch on
 * the GPU, keeps the best checkpoint, and resumes bit for bit from any checkpoint.
 *
 * {@link train} is the loop over epochs and chunks of steps; the run directory, the checkpoint
 * policy, the log lines and the loss read-back are `run_dir.ts`, `checkpoint_policy.ts`,
 * `train_log.ts` and `../model/loss_readback.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import { describeGpu, getGpu } from "../gpu/context.ts";
import {
  type EmbeddingSet,
  loadEmbeddings,
  selectRows,
  splitRows,
  validateEmbeddings,
} from "../io/embeddings.ts";
import {
  DEFAULT_HEAD,
  DEFAULT_LOSS,
  type HeadConfig,
  type LossConfig,
  validateHeadConfig,
} from "../model/config.ts";
import { initialParameters } from "../model/init.ts";
import { type InputNorm, moments, standardize } from "../model/input_norm.ts";
import { LossReadback } from "../model/loss_readback.ts";
import type { ParameterLayout } from "../model/parameters.ts";
import {
  DEFAULT_OPTIMIZER,
  type GpuDataset,
  mix32,
  type OptimizerConfig,
  TrainGraph,
} from "../model/train_graph.ts";
import { type GpuHeads, projectRows } from "../model/projector.ts";
import { retrievalMetrics } from "../metrics/evaluate.ts";
import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { Rng } from "../util/rng.ts";
import { type Checkpoint, loadCheckpoint, type TrainPosition } from "../model/checkpoint.ts";
import { CheckpointPolicy } from "./checkpoint_policy.ts";
import { loadResumable, normDifference } from "./resume.ts";
import type { EpochResult } from "./results_log.ts";
import { RunDir } from "./run_dir.ts";
import { learningRate, type SchedulerKind } from "./schedule.ts";
import { type LogPlan, TrainLog, type TrainProgress } from "./train_log.ts";

export { DivergedError } from "../model/loss_readback.ts";
export type { TrainProgress } from "./train_log.ts";
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
  const run = await startRun(o, hooks.gpu);
  const { gpu, graph, plan, policy, position } = run;
  const resumedAt = run.resumed ? position.epoch : null;
  const log = await TrainLog.open(run.dir, resumedAt, plan, hooks.onProgress);
  const readback = new LossReadback(gpu, graph.losses, plan.chunk, o.loss);
  if (position.optimizerStep === 0 && position.epoch === 0) {
    await log.result({ epoch: 0, step: 0, val: await run.validate() });
  }
  log.begin(position.optimizerStep);
  let stoppedEarly = false;
  while (position.epoch < o.epochs && !stoppedEarly) {
    const epoch = position.epoch;
    graph.setEpochIndex(epochOrder(o.seed, epoch, run.trainRows, plan.stepsPerEpoch * o.batchSize));
    const drain = async () => log.steps(epoch, await readback.drain());
    while (position.stepInEpoch < plan.stepsPerEpoch) {
      const n = policy.chunkLength(position, plan.chunk);
      gpu.submit(chunkSteps(graph, o.seed, plan, position, n, readback));
      await drain(); // the previous chunk's losses, while this chunk runs
      readback.start(position.optimizerStep + 1, n);
      position.stepInEpoch += n;
      position.optimizerStep += n;
      if (policy.savesMidEpoch(position)) {
        await drain();
        await policy.save(["epoch_latest"], await run.snapshot());
      }
    }
    await drain();
    stoppedEarly = await endEpoch(run, log, o);
  }
  log.done();
  return await finish(run, log.history, stoppedEarly);
}

/**
 * Ends the epoch `run.position` is in: validates, records the result, writes the checkpoints due;
 * true when early stopping ends the run there.
 */
async function endEpoch(run: Run, log: TrainLog, o: TrainOptions): Promise<boolean> {
  const { policy, position } = run;
  position.epoch += 1;
  position.stepInEpoch = 0;
  const val = await run.validate();
  const improved = policy.judge(position, val);
  const trainLoss = log.epochLoss();
  await log.result({ epoch: position.epoch, step: position.optimizerStep, trainLoss, val });
  await policy.save(policy.epochEnd(position, improved), await run.snapshot());
  if (!policy.stopsEarly(position)) return false;
  await run.dir.log(
    `Early stopping: ${o.valMetric} has not improved for ${o.earlyStopping} epochs`,
  );
  return true;
}

/** A run ready for its first step: data and parameters on the GPU, the position to go on from. */
interface Run {
  gpu: GpuContext;
  graph: TrainGraph;
  head: HeadConfig;
  inputNorm: InputNorm;
  dir: RunDir;
  policy: CheckpointPolicy;
  plan: LogPlan & { chunk: number };
  /** Where training stands; the loop moves it on. */
  position: TrainPosition;
  /** Whether the run continues from a checkpoint. */
  resumed: boolean;
  trainRows: Uint32Array;
  /** Validation metrics of the current parameters. */
  validate: () => Promise<Metrics>;
  /** The checkpoint of the current parameters, moments and position. */
  snapshot: () => Promise<Checkpoint>;
}

/**
 * Checks the data and options, opens the run directory, finds the starting point (fresh or
 * `--resume`d) and puts the data and the parameters on the GPU.
 */
async function startRun(o: TrainOptions, given?: GpuContext): Promise<Run> {
  const { set, source, head, trainRows, valRows } = await trainingData(o);
  const stepsPerEpoch = Math.floor(trainRows.length / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  const dir = await RunDir.create(o.logs, o.name, o.quiet);
  const policy = new CheckpointPolicy(dir, o, stepsPerEpoch);
  const resumePath = policy.resumePath(o.resume);
  const resumed = resumePath ? await loadResumable(resumePath, head, o) : null;
  const fromData = inputNormFor(set, trainRows, o.inputNorm);
  const inputNorm = await runInputNorm(dir, resumed, resumePath, fromData);
  const gpu = given ?? await getGpu();
  await dir.log(describeGpu(gpu.info));
  const data = uploadDataset(gpu, set, inputNorm);
  const optimizer: OptimizerConfig = { ...o.optimizer, weightDecay: o.wd };
  const chunk = Math.max(1, Math.min(o.logEveryNSteps, stepsPerEpoch));
  const slots = LossReadback.slots(chunk);
  const B = o.batchSize;
  const graph = new TrainGraph(gpu, head, o.loss, optimizer, B, data, stepsPerEpoch, slots);
  const config = configRecord(o, head, set, source);
  const start = resumed ?? freshStart(graph.layout, o);
  const position = start.position;
  if (resumed) {
    await dir.log(
      `Resuming from ${resumePath} at epoch ${position.epoch}, step ${position.optimizerStep}`,
    );
  }
  await dir.writeParams(config);
  gpu.write(graph.params, start.params);
  gpu.write(graph.m, start.m);
  gpu.write(graph.v, start.v);
  const snapshot = async (): Promise<Checkpoint> => {
    const [params, m, v] = await gpu.readMany([graph.params, graph.m, graph.v]);
    return { head, config, inputNorm, position: structuredClone(position), params, m, v };
  };
  const lr = (step: number) => learningRate(o.lrScheduler, o.lr, o.warmup, totalSteps, step);
  return {
    gpu,
    graph,
    head,
    inputNorm,
    dir,
    policy,
    plan: { batchSize: o.batchSize, stepsPerEpoch, totalSteps, lr, chunk },
    position,
    resumed: resumed !== null,
    trainRows,
    validate: validator(gpu, graph, head, set, valRows, inputNorm),
    snapshot,
  };
}

/**
 * The input standardization of the heads: a resumed run keeps its checkpoint's (saying so when
 * this data's differ), a new one takes `fromData`.
 */
async function runInputNorm(
  dir: RunDir,
  resumed: Checkpoint | null,
  path: string | null,
  fromData: InputNorm,
): Promise<InputNorm> {
  if (!resumed) return fromData;
  const drift = normDifference(resumed.inputNorm, fromData);
  if (drift > 0) {
    await dir.log(
      `Resuming with the input statistics stored in ${path}, not those of this data's ` +
        `train split (they differ by up to ${drift.toPrecision(3)}: the data changed)`,
    );
  }
  return resumed.inputNorm;
}

/** The whole dataset on the GPU, standardized, for the steps to gather their batches from. */
function uploadDataset(gpu: GpuContext, set: EmbeddingSet, norm: InputNorm): GpuDataset {
  return {
    image: gpu.storage(standardize(set.image, norm.image), "dataset images"),
    text: gpu.storage(standardize(set.text, norm.text), "dataset texts"),
    label: gpu.storage(set.label, "dataset labels"),
  };
}

/** The start of a new run: seeded initial parameters, zero moments, no step done. */
function freshStart(
  layout: ParameterLayout,
  o: TrainOptions,
): Pick<Required<Checkpoint>, "params" | "m" | "v" | "position"> {
  return {
    params: initialParameters(layout, o.seed),
    m: new Float32Array(layout.length),
    v: new Float32Array(layout.length),
    position: {
      epoch: 0,
      stepInEpoch: 0,
      optimizerStep: 0,
      best: { metric: o.valMetric, value: -Infinity, epoch: -1 },
      epochsWithoutImprovement: 0,
    },
  };
}

/**
 * The run's data, checked against the options: the set, its name in errors, the head it sizes,
 * the training and validation rows.
 */
async function trainingData(o: TrainOptions) {
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
  return { set, source, head, trainRows, valRows };
}

/** Validation on the GPU: the validation split uploaded once, projected by the current heads. */
function validator(
  gpu: GpuContext,
  graph: TrainGraph,
  head: HeadConfig,
  set: EmbeddingSet,
  valRows: Uint32Array,
  inputNorm: InputNorm,
): () => Promise<Metrics> {
  const heads: GpuHeads = { head, layout: graph.layout, params: graph.params };
  const logitScale = graph.layout.view(graph.params, "logit_scale");
  const upload = (values: Float32Array, norm: InputNorm["image"], label: string) =>
    gpu.storage(standardize(selectRows(values, valRows, set.dim), norm), label);
  const image = upload(set.image, inputNorm.image, "val images");
  const text = upload(set.text, inputNorm.text, "val texts");
  const labels = Int32Array.from(valRows, (r) => set.label[r]);
  return async () => {
    const zi = await projectRows(gpu, heads, "image", image, valRows.length);
    const zt = await projectRows(gpu, heads, "text", text, valRows.length);
    const metrics = withMeanRecall(
      await retrievalMetrics(gpu, zi, zt, valRows.length, head.outDim, logitScale, labels),
    );
    zi.buffer.destroy();
    zt.buffer.destroy();
    return metrics;
  };
}

/**
 * The commands of the `n` steps from `position`, each writing its losses to its read-back slot,
 * and their per-step dispatches to recycle once the GPU has run them.
 */
function chunkSteps(
  graph: TrainGraph,
  seed: number,
  plan: LogPlan,
  position: TrainPosition,
  n: number,
  readback: LossReadback,
): Command[] {
  const commands: Command[] = [];
  for (let k = 0; k < n; k++) {
    const s = position.optimizerStep + k;
    commands.push(...graph.step({
      stepInEpoch: position.stepInEpoch + k,
      optimizerStep: s + 1,
      lr: plan.lr(s),
      seed: mix32(seed, s),
      slot: readback.slot(k),
    }));
  }
  return commands;
}

/** What the run returns: the best checkpoint's parameters (the last ones when none was kept). */
async function finish(
  run: Run,
  history: EpochResult[],
  stoppedEarly: boolean,
): Promise<TrainResult> {
  const best = await loadCheckpoint(run.dir.checkpoint("best")).catch(() => null);
  const bestEpoch = history.find((h) => h.epoch === run.position.best.epoch) ??
    history[history.length - 1];
  return {
    head: run.head,
    inputNorm: run.inputNorm,
    params: best?.params ?? (await run.gpu.read(run.graph.params)),
    best: bestEpoch?.val ?? {},
    history,
    logDir: run.dir.path,
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

/**
 * The run's configuration as recorded in params.json and checkpoints; `dataset` keeps the
 * encoder ids the embeddings record, so an evaluation can refuse other encoders' embeddings.
 */
function configRecord(o: TrainOptions, head: HeadConfig, set: EmbeddingSet, source: string) {
  const { trainData: _, quiet: __, ...flags } = o;
  const { image_encoder, text_encoder } = set.metadata;
  const dataset = { count: set.count, dim: set.dim, image_encoder, text_encoder };
  return { ...flags, trainData: source, head, dataset };
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
