/**
 * The before/after evaluation of a trained run on a held-out split: the raw frozen-encoder
 * embeddings (pretrained BiomedCLIP, no head), the untrained head and the trained head, each by
 * image-to-text and text-to-image retrieval on the GPU; t-SNE pictures of the image embeddings
 * before and after, coloured normal/abnormal; and the HTML report with the training curves.
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
import { metricsTable } from "./metrics_table.ts";
import {
  type ReportInput,
  type TrainingEpoch,
  type TsnePanel,
  tsnePng,
  writeReport,
} from "./report_html.ts";
import { tsne } from "./tsne.ts";

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
  /** t-SNE panels of the split's image embeddings, raw and trained. */
  tsne: TsnePanel[];
}

/**
 * Evaluates raw embeddings, the untrained head (the trainer's initialization for `seed`) and
 * the trained head on `split`, and computes t-SNE pictures (at most `tsnePoints` points).
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
  tsnePoints = 1500,
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
  const untrained = new Projector(
    gpu,
    head,
    initialParameters(new ParameterLayout(head), seed),
    inputNorm,
  );
  const trainedProjector = new Projector(gpu, head, trained, inputNorm);
  let trainedImage: Float32Array | null = null;
  for (
    const [name, p] of [[COLUMNS.untrained, untrained], [
      COLUMNS.trained,
      trainedProjector,
    ]] as const
  ) {
    const zi = await p.projectToGpu("image", image, n), zt = await p.projectToGpu("text", text, n);
    metrics[name] = await retrievalMetrics(gpu, zi, zt, n, head.outDim, p.logitScale, labels);
    if (p === trainedProjector) trainedImage = await gpu.read(zi);
    zi.buffer.destroy();
    zt.buffer.destroy();
  }
  const take = Math.min(n, tsnePoints);
  const tsneLabels = labels.subarray(0, take);
  const panels: TsnePanel[] = [
    {
      title: `image embeddings, ${COLUMNS.raw}`,
      points: tsne(await gpu.read(rawImage), take, set.dim, { metric: "cosine", seed }),
      labels: tsneLabels,
    },
    {
      title: `image embeddings, ${COLUMNS.trained}`,
      points: tsne(trainedImage!, take, head.outDim, { metric: "cosine", seed }),
      labels: tsneLabels,
    },
  ];
  for (const b of [scale, rawImage, rawText]) b.buffer.destroy();
  return { split, count: n, metrics, tsne: panels };
}

/**
 * Writes `report.html`, the t-SNE PNGs and `before_after.json` into `dir`; returns the terminal
 * table.
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
 *   console.log(table); // report.html, the t-SNE PNGs and before_after.json are in r.logDir
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
  const splits = (["train", "validation", "test"] as const).map((name) => {
    const rows = splitRows(set, name);
    const abnormal = rows.reduce((a, r) => a + set.label[r], 0);
    return { name, pairs: rows.length, normal: rows.length - abnormal, abnormal };
  });
  const panels = ba.tsne.map((panel) => ({ ...panel, png: tsnePng(panel) }));
  const input: ReportInput = {
    title: "Chest X-ray image–report retrieval",
    subtitle: `${datasetName}: projector heads trained with CLIP + SupCon + BCE`,
    dataset: { name: datasetName, splits, facts: { "embedding size": set.dim } },
    metrics: ba.metrics,
    metricsSplit: ba.split,
    history,
    tsne: panels,
    config,
    notes,
  };
  await writeReport(join(dir, "report.html"), input);
  for (const [i, panel] of panels.entries()) {
    await writeFileAtomic(
      join(dir, `tsne_${i === 0 ? "raw" : "trained"}.png`),
      panel.png as Uint8Array<ArrayBuffer>,
    );
  }
  await writeFileAtomic(
    join(dir, "before_after.json"),
    new TextEncoder().encode(
      JSON.stringify({ split: ba.split, count: ba.count, metrics: ba.metrics }, null, 2),
    ),
  );
  return metricsTable(ba.metrics);
}
