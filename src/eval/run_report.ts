/**
 * The before/after evaluation of a trained run on a held-out split: the raw frozen-encoder
 * embeddings (pretrained BiomedCLIP, no head), the untrained head and the trained head, each by
 * image-to-text and text-to-image retrieval on the GPU; t-SNE pictures of the image and report
 * embeddings before and after, coloured normal/abnormal (and by finding where the data has
 * findings); and the HTML report with the training curves.
 *
 * @module
 */

import { join } from "node:path";
import type { GpuContext } from "../gpu/context.ts";
import { type EmbeddingSet, selectRows, type SplitName, splitRows } from "../io/embeddings.ts";
import { normalizeRows, retrievalMetrics } from "../metrics/evaluate.ts";
import type { Metrics } from "../metrics/retrieval_metrics.ts";
import type { HeadConfig } from "../model/config.ts";
import { initialParameters } from "../model/init.ts";
import type { InputNorm } from "../model/input_norm.ts";
import { ParameterLayout } from "../model/parameters.ts";
import { Projector } from "../model/projector.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { EpochResult } from "../train/results_log.ts";
import { type Chart, renderChart } from "./chart_render.ts";
import { lineChart, type TsnePanel } from "./chart_specs.ts";
import { metricsTable } from "./metrics_table.ts";
import { type ReportInput, splitSummaries, writeReport } from "./report_html.ts";
import { TSNE_MAX_POINTS, tsneCharts, tsnePanels } from "./tsne_panels.ts";

/** One evaluated epoch of the run (`results.jsonl`). */
type TrainingEpoch = Pick<EpochResult, "epoch" | "trainLoss" | "val">;

/** Column names of the before/after table. */
export const COLUMNS = {
  raw: "raw encoder (no head)",
  untrained: "untrained head",
  trained: "trained head",
} as const;

/** The three models evaluated on one split. */
export interface BeforeAfter {
  /** Split evaluated. */
  split: SplitName;
  /** Pairs in it. */
  count: number;
  /** Metrics per column (see {@link COLUMNS}). */
  metrics: Record<string, Metrics>;
  /**
   * t-SNE panels of the split's embeddings: image and report with no head, then image and report
   * through the trained head.
   */
  tsne: TsnePanel[];
}

/** Options of {@link beforeAfter}. */
export interface BeforeAfterOptions {
  /** At most this many points per t-SNE picture (default {@link TSNE_MAX_POINTS}). */
  tsnePoints?: number;
  /** Each row's findings in the set, where the data has them: extra pictures coloured by them. */
  findings?: string[][];
}

/**
 * Evaluates raw embeddings, the untrained head (the trainer's initialization for `seed`) and
 * the trained head on `split`, and computes the t-SNE pictures of the image and report
 * embeddings with no head and through the trained head, on the GPU.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { train } from "../../mod.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   const set = syntheticEmbeddings(o); // SYNTHETIC frozen-encoder embeddings
 *   const logs = await Deno.makeTempDir();
 *   const r = await train({ trainData: set, batchSize: 16, epochs: 2, logs, quiet: true });
 *   const ba = await beforeAfter(gpu, set, r.head, r.params, r.inputNorm, 0, "test");
 *   ba.metrics[COLUMNS.trained]["image_to_text_R@1"]; // and COLUMNS.raw, COLUMNS.untrained
 *   await Deno.remove(logs, { recursive: true });
 * }
 * ```
 */
export async function beforeAfter(
  gpu: GpuContext,
  set: EmbeddingSet,
  head: HeadConfig,
  trained: Float32Array<ArrayBuffer>,
  inputNorm: InputNorm,
  seed: number,
  split: SplitName,
  options: BeforeAfterOptions = {},
): Promise<BeforeAfter> {
  const rows = splitRows(set, split);
  if (rows.length < 2) {
    throw new Error(`the ${split} split has ${rows.length} pairs; need at least 2`);
  }
  const image = selectRows(set.image, rows, set.dim), text = selectRows(set.text, rows, set.dim);
  const n = rows.length;
  const labels = Int32Array.from(rows, (r) => set.label[r]);
  const scale = gpu.storage(new Float32Array([0]), "unit scale");
  const rawImage = await normalizeRows(gpu, gpu.storage(image), n, set.dim);
  const rawText = await normalizeRows(gpu, gpu.storage(text), n, set.dim);
  const metrics: Record<string, Metrics> = {
    [COLUMNS.raw]: await retrievalMetrics(gpu, rawImage, rawText, n, set.dim, scale, labels),
  };
  for (const b of [scale, rawImage, rawText]) b.buffer.destroy();
  const untrained = new Projector(
    gpu,
    head,
    initialParameters(new ParameterLayout(head), seed),
    inputNorm,
  );
  const trainedProjector = new Projector(gpu, head, trained, inputNorm);
  let projected = { image: new Float32Array(), text: new Float32Array() };
  for (
    const [name, p] of [[COLUMNS.untrained, untrained], [
      COLUMNS.trained,
      trainedProjector,
    ]] as const
  ) {
    const zi = await p.projectToGpu("image", image, n), zt = await p.projectToGpu("text", text, n);
    metrics[name] = await retrievalMetrics(gpu, zi, zt, n, head.outDim, p.logitScale, labels);
    if (p === trainedProjector) projected = { image: await gpu.read(zi), text: await gpu.read(zt) };
    zi.buffer.destroy();
    zt.buffer.destroy();
    p.params.buffer.destroy();
  }
  const tsneOptions = {
    maxPoints: options.tsnePoints ?? TSNE_MAX_POINTS,
    seed,
    findings: options.findings && Array.from(rows, (r) => options.findings![r]),
  };
  const tsne = [
    ...await tsnePanels(
      gpu,
      { name: "no head", image, text, count: n, dim: set.dim },
      labels,
      tsneOptions,
    ),
    ...await tsnePanels(
      gpu,
      { name: COLUMNS.trained, ...projected, count: n, dim: head.outDim },
      labels,
      tsneOptions,
    ),
  ];
  return { split, count: n, metrics, tsne };
}

/** Validation curves drawn from `results.jsonl`: metric → legend name. */
const VALIDATION_SERIES: [string, string][] = [
  ["image_to_text_R@10", "image → report R@10"],
  ["text_to_image_R@10", "report → image R@10"],
  ["image_to_text_label_P@10", "image → report label P@10"],
  ["text_to_image_label_P@10", "report → image label P@10"],
];

/** The training loss and validation charts of a run's history. */
function curveCharts(history: TrainingEpoch[]): Chart[] {
  const charts: Chart[] = [];
  const withLoss = history.filter((h) => h.trainLoss !== undefined);
  if (withLoss.length > 0) {
    charts.push(lineChart("loss", "Training loss", { x: "epoch", y: "loss" }, [{
      name: "train loss (mean of the epoch)",
      x: withLoss.map((h) => h.epoch),
      y: withLoss.map((h) => h.trainLoss!),
    }], "The composite loss (CLIP + SupCon + BCE, weighted), averaged over each epoch's steps."));
  }
  const epochs = history.map((h) => h.epoch);
  const series = [
    { name: "mean recall", x: epochs, y: history.map((h) => meanRecall(h.val)) },
    ...VALIDATION_SERIES.filter(([m]) => history.some((h) => h.val[m] !== undefined)).map((
      [m, name],
    ) => ({ name, x: epochs, y: history.map((h) => h.val[m] ?? NaN) })),
  ];
  charts.push(
    lineChart(
      "validation",
      "Validation retrieval",
      { x: "epoch", y: "value" },
      series,
      "Mean recall is the mean of R@1, R@5 and R@10 in both directions; epoch 0 is the " +
        "untrained head.",
    ),
  );
  return charts;
}

/** `mean_recall` if present, else the mean of every `_R@k` metric. */
function meanRecall(m: Metrics): number {
  if (m.mean_recall !== undefined) return m.mean_recall;
  const keys = Object.keys(m).filter((k) => k.includes("_R@"));
  return keys.length ? keys.reduce((a, k) => a + m[k], 0) / keys.length : NaN;
}

/**
 * Writes `report.html` with its charts' PNGs beside it (`loss`, `validation`, `tsne_image_raw`,
 * `tsne_image_trained`, `tsne_report_raw`, `tsne_report_trained`, and with findings
 * `tsne_*_findings`) and `before_after.json` into `dir`; returns the terminal table.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { train } from "../../mod.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   const set = syntheticEmbeddings(o); // SYNTHETIC frozen-encoder embeddings
 *   const logs = await Deno.makeTempDir();
 *   const config = { batchSize: 16, epochs: 2 };
 *   const r = await train({ trainData: set, ...config, logs, quiet: true }, { gpu });
 *   const ba = await beforeAfter(gpu, set, r.head, r.params, r.inputNorm, 0, "test");
 *   const table = await writeRunReport(r.logDir, ba, r.history, set, "synthetic", config);
 *   console.log(table); // report.html, its PNGs and before_after.json are in r.logDir
 *   await Deno.remove(logs, { recursive: true });
 * }
 * ```
 */
export async function writeRunReport(
  dir: string,
  ba: BeforeAfter,
  history: TrainingEpoch[],
  set: EmbeddingSet,
  datasetName: string,
  config: Record<string, unknown>,
  notes: string[] = [],
): Promise<string> {
  const [rawImage, rawReport, trainedImage, trainedReport] = ba.tsne;
  const tsne = tsneCharts([
    ["tsne_image_raw", rawImage],
    ["tsne_image_trained", trainedImage],
    ["tsne_report_raw", rawReport],
    ["tsne_report_trained", trainedReport],
  ]);
  const render = (charts: Chart[]) => Promise.all(charts.map(renderChart));
  const input: ReportInput = {
    title: "Chest X-ray image–report retrieval",
    subtitle: `${datasetName}: projector heads trained with CLIP + SupCon + BCE`,
    dataset: {
      name: datasetName,
      splits: splitSummaries(set),
      facts: { "embedding size": set.dim },
    },
    metrics: ba.metrics,
    metricsSplit: ba.split,
    figures: [
      ...(history.length
        ? [{ heading: "Training curves", figures: await render(curveCharts(history)) }]
        : []),
      {
        heading: "t-SNE of the embeddings",
        intro: `The ${ba.split} split's image and report embeddings before (the frozen ` +
          "encoder's, no head) and after (through the trained head), laid out by t-SNE " +
          "(cosine distances, perplexity 30); clearer normal/abnormal clusters after training " +
          "mean the heads learnt the label.",
        figures: await render(tsne),
      },
    ],
    config,
    notes,
  };
  await writeReport(dir, input);
  await writeFileAtomic(
    join(dir, "before_after.json"),
    new TextEncoder().encode(
      JSON.stringify({ split: ba.split, count: ba.count, metrics: ba.metrics }, null, 2),
    ),
  );
  return metricsTable(ba.metrics);
}
