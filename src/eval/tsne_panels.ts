/**
 * The t-SNE pictures' data: a model's image and report embeddings of one split laid out in 2-D by
 * `tsne` on the GPU (cosine distances), labelled normal/abnormal, with the findings where the data
 * has them. `evalTsnePanels` does it for `deno task eval`: the encoder with no head and one
 * checkpoint, whose heads project the split first.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import { type EmbeddingSet, selectRows, type SplitName, splitRows } from "../io/embeddings.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { Projector } from "../model/projector.ts";
import type { Chart } from "./chart_render.ts";
import { tsneChart, type TsnePanel } from "./chart_specs.ts";
import type { EvalResult } from "./evaluate_models.ts";
import { tsne } from "./tsne.ts";

/** The most points a t-SNE picture shows by default (a larger split is subsampled evenly). */
export const TSNE_MAX_POINTS = 5000;

/** One model's embeddings of a split, row i of each being study i. */
export interface SplitEmbeddings {
  /** The model, as the pictures name it (e.g. `no head`, `trained head`). */
  name: string;
  /** Image embeddings [count, dim]. */
  image: Float32Array;
  /** Report embeddings [count, dim]. */
  text: Float32Array;
  /** Studies. */
  count: number;
  /** Embedding width. */
  dim: number;
}

/** Options of {@link tsnePanels} and {@link evalTsnePanels}. */
export interface TsnePanelOptions {
  /** At most this many points, evenly spaced over the split (default {@link TSNE_MAX_POINTS}). */
  maxPoints?: number;
  /** t-SNE's seed (default 0). */
  seed?: number;
  /** Each study's findings, where the data has them (same rows as the embeddings). */
  findings?: string[][];
}

/** `take` row indices evenly spaced over `count` (all of them when take ≥ count). */
function evenRows(count: number, take: number): Uint32Array {
  const n = Math.min(count, take);
  return Uint32Array.from({ length: n }, (_, i) => Math.floor((i * count) / n));
}

/**
 * t-SNE pictures of a model's image and report embeddings (in that order), coloured by `labels`
 * (0 normal, 1 abnormal), computed on the GPU.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const count = 40, dim = 8;
 *   const image = Float32Array.from({ length: count * dim }, (_, k) => Math.sin(k));
 *   const text = Float32Array.from({ length: count * dim }, (_, k) => Math.cos(k));
 *   const labels = Int32Array.from({ length: count }, (_, i) => i % 2);
 *   const [img, rep] = await tsnePanels(gpu, { name: "no head", image, text, count, dim }, labels);
 *   img.title; // "image embeddings, no head"
 * }
 * ```
 */
export async function tsnePanels(
  gpu: GpuContext,
  model: SplitEmbeddings,
  labels: Int32Array,
  options: TsnePanelOptions = {},
): Promise<TsnePanel[]> {
  const { count, dim } = model;
  if (labels.length !== count || options.findings && options.findings.length !== count) {
    throw new Error(
      `t-SNE of ${model.name}: ${count} studies, ${labels.length} labels and ` +
        `${options.findings?.length ?? "no"} finding lists; expected one per study`,
    );
  }
  const rows = evenRows(count, options.maxPoints ?? TSNE_MAX_POINTS);
  const panels: TsnePanel[] = [];
  for (const [tower, values] of [["image", model.image], ["report", model.text]] as const) {
    const points = await tsne(selectRows(values, rows, dim), rows.length, dim, {
      metric: "cosine",
      seed: options.seed ?? 0,
      gpu,
    });
    panels.push({
      title: `${tower} embeddings, ${model.name}`,
      points,
      labels: Int32Array.from(rows, (r) => labels[r]),
      findings: options.findings && Array.from(rows, (r) => options.findings![r]),
      caption: rows.length < count
        ? `${rows.length} of the ${count} studies, evenly spaced.`
        : undefined,
    });
  }
  return panels;
}

/**
 * `deno task eval`'s t-SNE pictures: image and report embeddings of `result.split` for the
 * no-head row and for the checkpoint row named `checkpoint` (default: the first checkpoint row),
 * whose heads project the split; no checkpoint row, no pictures of one. Throws naming the row when
 * `checkpoint` names none.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { evaluate } from "./evaluate_models.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   const set = syntheticEmbeddings(o); // SYNTHETIC
 *   const result = await evaluate(gpu, set, "synthetic");
 *   const panels = await evalTsnePanels(gpu, set, result); // the no-head row's two pictures
 * }
 * ```
 */
export async function evalTsnePanels(
  gpu: GpuContext,
  set: EmbeddingSet,
  result: EvalResult,
  options: TsnePanelOptions & { checkpoint?: string } = {},
): Promise<TsnePanel[]> {
  const rows = splitRows(set, result.split as SplitName);
  const count = rows.length, dim = set.dim;
  const image = selectRows(set.image, rows, dim), text = selectRows(set.text, rows, dim);
  const labels = Int32Array.from(rows, (r) => set.label[r]);
  const findings = options.findings && Array.from(rows, (r) => options.findings![r]);
  const each = { ...options, findings };
  const encoder = result.rows.find((r) => r.kind === "encoder");
  const panels = encoder
    ? await tsnePanels(gpu, { name: encoder.name, image, text, count, dim }, labels, each)
    : [];
  // A row of several seeds stands for several heads; pictures show one head.
  const checkpoints = result.rows.filter((r) => r.kind === "checkpoint" && r.seeds === undefined);
  const chosen = options.checkpoint === undefined
    ? checkpoints[0]
    : checkpoints.find((r) => r.name === options.checkpoint);
  if (options.checkpoint !== undefined && !chosen) {
    throw new Error(
      `t-SNE checkpoint ${options.checkpoint}: no such checkpoint row (rows: ` +
        `${checkpoints.map((r) => r.name).join(", ") || "none"})`,
    );
  }
  if (!chosen) return panels;
  const c = await loadCheckpoint(chosen.source);
  const projector = new Projector(gpu, c.head, c.params, c.inputNorm);
  try {
    const projected = {
      name: chosen.name,
      image: await projector.project("image", image, count),
      text: await projector.project("text", text, count),
      count,
      dim: c.head.outDim,
    };
    return [...panels, ...await tsnePanels(gpu, projected, labels, each)];
  } finally {
    projector.params.buffer.destroy();
  }
}

/**
 * The t-SNE charts of named panels: each coloured normal/abnormal (file `<name>`), then each
 * panel with findings coloured by finding (`<name>_findings`).
 * @example
 * ```ts
 * const panel = {
 *   title: "image embeddings, trained head",
 *   points: new Float64Array([0, 0, 1, 1, 5, 5, 6, 5]),
 *   labels: new Int32Array([0, 0, 1, 1]),
 *   findings: [[], [], ["effusion"], ["nodule", "effusion"]],
 * };
 * tsneCharts([["tsne_image_trained", panel]]).map((c) => c.name);
 * // ["tsne_image_trained", "tsne_image_trained_findings"]
 * ```
 */
export function tsneCharts(named: [string, TsnePanel][]): Chart[] {
  return [
    ...named.map(([name, p]) => tsneChart(name, p)),
    ...named.filter(([, p]) => p.findings).map(([name, p]) =>
      tsneChart(`${name}_findings`, p, true)
    ),
  ];
}
