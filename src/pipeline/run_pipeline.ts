/**
 * The whole method in one call: pairs from an embeddings file, or a dataset loaded and embedded
 * by the frozen encoders (through the cache); the heads trained; then the raw encoder, the
 * untrained and the trained head compared on the test split (table, t-SNE, HTML report). With no
 * data named it runs the SYNTHETIC demo. `deno task train` is this function behind flags.
 *
 * @module
 */

import { join } from "node:path";
import { loadDataset } from "../data/load_dataset.ts";
import { embedRecords } from "../encoders/embed_dataset.ts";
import { summarizeSkipped } from "../encoders/skipped_inputs.ts";
import { type BeforeAfter, beforeAfter, writeRunReport } from "../eval/run_report.ts";
import { getGpu, type GpuContext } from "../gpu/context.ts";
import { type EmbeddingSet, loadEmbeddings, saveEmbeddings, splitRows } from "../io/embeddings.ts";
import { train, type TrainResult } from "../train/trainer.ts";
import { isDemo, type PipelineInput, type PipelineOptions, pipelineOptions } from "./options.ts";

const DEMO_BANNER = "SYNTHETIC demo: generated chest-radiograph-like images and templated " +
  "reports, random-weight demo encoders (weights/demo). Not medical data; it shows the method " +
  "working end to end.";
const DEMO_NOTE = "SYNTHETIC demo: images are drawn by a generator and the encoders have random " +
  "weights. The numbers show that the method learns; they say nothing about real chest X-rays.";

/** How {@link runPipeline} reports and where it runs. */
export interface PipelineHooks {
  /** Receives the progress lines: the demo's banner, the dataset loaded, the items embedded. */
  log?: (line: string) => void;
  /** The GPU to train and evaluate on (default: {@link getGpu}'s). */
  gpu?: GpuContext;
}

/** What {@link runPipeline} found. */
export interface PipelineResult {
  /** What training returned: the log directory, the best validation metrics, the history. */
  training: TrainResult;
  /** The before/after evaluation on the test split; null when it has fewer than 2 pairs. */
  evaluation: BeforeAfter | null;
  /** The before/after metrics as a terminal table; null without an evaluation. */
  table: string | null;
  /** The embedding's summary of skipped inputs ("" when none was skipped). */
  skipped: string;
}

/** The run's pairs, what the report calls them and the embeddings file they are in. */
interface PipelineData {
  set: EmbeddingSet;
  name: string;
  file: string;
  skipped: string;
}

/**
 * Runs the pipeline `given` describes (see {@link pipelineOptions} for the defaults); writes the
 * logs, checkpoints, `report.html`, the t-SNE PNGs and `before_after.json` into
 * `<logs>/<name>/` and, when it embedded a dataset, `embeddings.safetensors`.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { saveEmbeddings } from "../io/embeddings.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const dir = await Deno.makeTempDir();
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   await saveEmbeddings(`${dir}/e.safetensors`, syntheticEmbeddings(o));
 *   // Without trainData or dataset it runs the whole SYNTHETIC demo instead.
 *   const options = { trainData: `${dir}/e.safetensors`, epochs: 2, batchSize: 16 };
 *   const { table } = await runPipeline({ ...options, logs: dir, quiet: true }, { gpu });
 *   console.log(table); // raw encoder, untrained and trained head on the test split
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function runPipeline(
  given: PipelineInput,
  hooks: PipelineHooks = {},
): Promise<PipelineResult> {
  const demo = isDemo(given);
  const o = pipelineOptions(given);
  const log = hooks.log ?? (() => {});
  if (demo) log(DEMO_BANNER);
  const logDir = join(o.logs, o.name);
  await Deno.mkdir(logDir, { recursive: true });
  const data = o.trainData
    ? { set: await loadEmbeddings(o.trainData), name: o.trainData, file: o.trainData, skipped: "" }
    : await embedDataset(o, logDir, log);
  const training = await train({ ...o, trainData: data.set }, { gpu: hooks.gpu });
  if (splitRows(data.set, "test").length < 2) {
    return { training, evaluation: null, table: null, skipped: data.skipped };
  }
  const gpu = hooks.gpu ?? await getGpu();
  const { head, params, inputNorm, history } = training;
  const evaluation = await beforeAfter(gpu, data.set, head, params, inputNorm, o.seed, "test");
  const table = await writeRunReport(
    training.logDir,
    evaluation,
    history,
    data.set,
    data.name,
    { ...o, trainData: data.file },
    demo ? [DEMO_NOTE] : [],
  );
  return { training, evaluation, table, skipped: data.skipped };
}

/** Loads `o.dataset`, embeds it through the cache and saves it as `<logDir>/embeddings.safetensors`. */
async function embedDataset(
  o: PipelineOptions,
  logDir: string,
  log: (line: string) => void,
): Promise<PipelineData> {
  const dataset = o.dataset!;
  const dataDir = o.dataDir ??
    (dataset === "synthetic" ? join(".cache", "demo", "synthetic") : null);
  if (!dataDir) throw new Error(`--dataset ${dataset} needs --data-dir (see --help)`);
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
  log(
    `${dataset}: ${records.length} studies (${problems.length} rows skipped) ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const embedded = await embedRecords(records, {
    weightsDir: o.weights ?? (dataset === "synthetic" ? "weights/demo" : "weights"),
    cacheDir: o.cacheDir,
    runtime: o.encoderRuntime,
    strict: o.strict,
    info: log,
  });
  log(
    `embedded ${embedded.embedded.images} images and ${embedded.embedded.reports} reports ` +
      `(the rest from the cache ${o.cacheDir})`,
  );
  const file = join(logDir, "embeddings.safetensors");
  await saveEmbeddings(file, embedded.set);
  return {
    set: embedded.set,
    name: dataset === "synthetic" ? "SYNTHETIC demo set" : `${dataset} (${dataDir})`,
    file,
    skipped: summarizeSkipped(embedded.skipped, embedded.dropped, embedded.set.count),
  };
}
