/**
 * `deno task eval`'s comparison: the pretrained encoder's embeddings with no head and any number
 * of trained checkpoints, evaluated on one split of one embeddings file with the same metrics —
 * retrieval in both directions ({@link clinicalRetrievalMetrics}) and, for checkpoints, screening
 * by the BCE head's classifier ({@link screeningMetrics}) per modality.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import type { GpuContext } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import { type EmbeddingSet, type SplitName, splitRows } from "../io/embeddings.ts";
import { RELEVANCE_RULES } from "../metrics/clinical.ts";
import { clinicalRetrievalMetrics, normalizeRows } from "../metrics/evaluate.ts";
import { TIE_RULE } from "../metrics/ranks.ts";
import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { rocCurve, type RocPoint, screeningMetrics } from "../metrics/screening.ts";
import { type Checkpoint, loadCheckpoint } from "../model/checkpoint.ts";
import { Projector } from "../model/projector.ts";
import {
  type EvalUnit,
  matchStudies,
  sameImages,
  studyRelevance,
  type UnitEmbeddings,
  unitEmbeddings,
} from "./eval_inputs.ts";

/**
 * Version of the metric definitions in `eval.json` (README "Metrics" and "Screening"); bump it
 * when a definition changes, so numbers of different versions are never compared.
 */
export const EVAL_DEFINITIONS = "cxr-eval/1";

/** The screening threshold: a study is called abnormal when its probability is at least this. */
export const SCREENING_THRESHOLD = 0.5;

/** A checkpoint to evaluate and the row name it gets. */
export interface CheckpointSpec {
  /** Row name (the run folder, see {@link checkpointName}). */
  name: string;
  /** Path of the `.safetensors` checkpoint. */
  path: string;
}

/**
 * How each unit pairs queries with candidates (`eval.json` `pairRule`; README "Metrics").
 */
export const PAIR_RULES: Record<EvalUnit, string> = {
  study: "row i of the images pairs with row i of the reports (one image row per study: the " +
    "mean of its images' embeddings)",
  image: "image_to_text: each image is a query, paired with its study's report; text_to_image: " +
    "each report against every image, its pair rank the rank of its study's best-ranked image " +
    "counting only other studies' images (ties: the tie rule); clinical relevance of an image " +
    "is its study's",
};

/** Another embeddings file of the same collection, from other encoders: a no-head row. */
export interface BaselineSpec {
  /** The embeddings. */
  set: EmbeddingSet;
  /** What it is called in errors and in the row's source (its path). */
  source: string;
}

/** One model's row. */
export interface EvalRow {
  /** Row name, e.g. `no head (text-…)` or the run's name. */
  name: string;
  /** `encoder`: raw embeddings, cosine; `checkpoint`: projected through trained heads. */
  kind: "encoder" | "checkpoint";
  /** The checkpoint's path, or the encoder ids. */
  source: string;
  /**
   * Retrieval metrics of both directions, and for checkpoints `<image|text>_screening_accuracy`,
   * `_sensitivity`, `_specificity`, `_AUROC`.
   */
  metrics: Metrics;
  /**
   * Training seeds this row stands for (see `seed_stats.ts`): `metrics` is then their mean. Absent
   * for a single model.
   */
  seeds?: number;
  /** Sample standard deviation of each metric over the seeds (n − 1; two seeds or more). */
  std?: Metrics;
  /** Each seed's metrics, in seed order. */
  perSeed?: Metrics[];
  /**
   * Checkpoints: the screening ROC curve of each modality's probabilities (`rocCurve`'s points
   * without their thresholds, the first of which is Infinity, which JSON cannot hold).
   */
  roc?: { image: RocXY[]; text: RocXY[] };
}

/** A point of a ROC curve: false- and true-positive rate. */
export type RocXY = Pick<RocPoint, "fpr" | "tpr">;

/** What `eval.json` holds. */
export interface EvalResult {
  /** {@link EVAL_DEFINITIONS}. */
  definitions: string;
  /** Rank rule for ties ({@link TIE_RULE}). */
  tieRule: string;
  /** `study` (default) or `image`: what the queries are ({@link PAIR_RULES}). */
  unit: EvalUnit;
  /** How queries pair with candidates in this unit (always written by {@link evaluate}). */
  pairRule?: string;
  /** The embeddings file (or what it is called). */
  embeddings: string;
  /** True when the embeddings file says it is synthetic (`__metadata__.synthetic`). */
  synthetic: boolean;
  /** Split evaluated. */
  split: SplitName;
  /** Studies in it. */
  count: number;
  /** Images in it (per-image evaluation only). */
  images?: number;
  /** Relevances of the clinical metrics (`label`; `findings` where finding labels exist). */
  relevance: string[];
  /** Each relevance's definition and threshold ({@link RELEVANCE_RULES}; always written). */
  relevanceRules?: Record<string, string>;
  /** Screening threshold. */
  screeningThreshold: number;
  /** What was left out and why. */
  notes: string[];
  /** The models, no-head row first. */
  rows: EvalRow[];
}

/**
 * The no-head row's name: the text encoder id the embeddings file records (the ids name the
 * towers' weights, not their model family, so the row does not guess a name such as BiomedCLIP),
 * after the model's name when the file records one (`encoder_name`, written by `embedRecords`
 * from the weights manifest, see `encoderFamilyName`).
 * @example
 * ```ts
 * encoderRowName({ text_encoder: "text-fcc455e03277693c-f04cb37b-256" });
 * // "no head (text-fcc455e03277693c-f04cb37b-256)"
 * encoderRowName({ text_encoder: "text-0123-abcd-77", encoder_name: "CLIP ViT-B/16" });
 * // "no head (CLIP ViT-B/16, text-0123-abcd-77)"
 * encoderRowName({}); // "no head (raw embeddings)"
 * ```
 */
export function encoderRowName(metadata: Record<string, string>): string {
  const id = metadata.text_encoder ?? "raw embeddings";
  return `no head (${metadata.encoder_name ? `${metadata.encoder_name}, ${id}` : id})`;
}

/**
 * A checkpoint's row name: its run folder for `<run>/checkpoints/<file>`, else the file name
 * without `.safetensors`.
 * @example
 * ```ts
 * checkpointName("logs/demo/checkpoints/best.safetensors"); // "demo"
 * checkpointName("heads/v2.safetensors"); // "v2"
 * ```
 */
export function checkpointName(path: string): string {
  const dir = dirname(path);
  return basename(dir) === "checkpoints"
    ? basename(dirname(dir))
    : basename(path).replace(/\.safetensors$/, "");
}

/** Whether a checkpoint's recorded configuration trained it with BCE weight 0. */
function trainedWithoutBce(config: Record<string, unknown>): boolean {
  const loss = config.loss as { wBce?: unknown } | undefined;
  return loss?.wBce === 0;
}

/**
 * Evaluates the raw embeddings (cosine, no head) of `set` and of each baseline file (the same
 * collection embedded by other encoders, matched by study id), then each checkpoint, on `split`
 * of `set`, in `unit` (`study` by default, or `image`: {@link PAIR_RULES}): the retrieval metrics
 * of {@link clinicalRetrievalMetrics} in both directions with label relevance and, where the
 * file's studies carry finding labels, findings relevance (otherwise a note says so); for
 * checkpoints the screening metrics of `Projector.classify` on image (per image: each image) and
 * report embeddings (none, and a note, for a checkpoint trained with BCE weight 0: its classifier
 * is untrained). `source` names the embeddings in errors. Throws, naming the checkpoint, when
 * its heads take another embedding width or it records other encoder ids than `set`.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   const set = syntheticEmbeddings(o); // SYNTHETIC
 *   const result = await evaluate(gpu, set, "synthetic", { split: "test" });
 *   result.rows[0].metrics["image_to_text_label_mAP@10"]; // the no-head row
 * }
 * ```
 */
export async function evaluate(
  gpu: GpuContext,
  set: EmbeddingSet,
  source: string,
  options: {
    split?: SplitName;
    checkpoints?: readonly CheckpointSpec[];
    unit?: EvalUnit;
    baselines?: readonly BaselineSpec[];
  } = {},
): Promise<EvalResult> {
  const split = options.split ?? "test", unit = options.unit ?? "study";
  const rows = splitRows(set, split);
  if (rows.length < 2) {
    throw new Error(`${source}: the ${split} split has ${rows.length} pairs; need at least 2`);
  }
  const n = rows.length;
  const main = unitEmbeddings(set, rows, unit, source);
  const { image, text } = main;
  const labels = Int32Array.from(rows, (r) => set.label[r]);
  const relevance = studyRelevance(set, rows);
  const pairs = async (zImage: GpuView, zText: GpuView, dim: number, logitScale: GpuView) => {
    try {
      return await clinicalRetrievalMetrics(
        gpu,
        { zImage, zText, count: n, dim, logitScale, imageStudy: main.imageStudy },
        relevance,
      );
    } finally {
      zImage.buffer.destroy();
      zText.buffer.destroy();
    }
  };
  const scale = gpu.storage(new Float32Array([0]), "unit scale");
  const noHead = async (e: UnitEmbeddings, of: EmbeddingSet): Promise<EvalRow> => ({
    name: encoderRowName(of.metadata),
    kind: "encoder",
    source: [of.metadata.image_encoder, of.metadata.text_encoder].filter(Boolean).join(" / ") ||
      "no encoder id recorded",
    metrics: await pairs(
      await normalizeRows(gpu, gpu.storage(e.image), e.imageRows, e.dim),
      await normalizeRows(gpu, gpu.storage(e.text), n, e.dim),
      e.dim,
      scale,
    ),
  });
  const out: EvalRow[] = [await noHead(main, set)];
  for (const b of options.baselines ?? []) {
    const e = unitEmbeddings(b.set, matchStudies(b.set, set, rows, b.source), unit, b.source);
    if (unit === "image") sameImages(main, e, Array.from(rows, (r) => set.ids[r]), b.source);
    const row = await noHead(e, b.set);
    out.push({ ...row, source: `${b.source}: ${row.source}` });
  }
  scale.buffer.destroy();
  const withoutBce: string[] = [];
  for (const spec of options.checkpoints ?? []) {
    const c = await loadCheckpoint(spec.path);
    checkTrainedOn(c, spec.path, set, source);
    const p = new Projector(gpu, c.head, c.params, c.inputNorm);
    try {
      const metrics = await pairs(
        await p.projectToGpu("image", image, main.imageRows),
        await p.projectToGpu("text", text, n),
        c.head.outDim,
        p.logitScale,
      );
      const untrainedClassifier = trainedWithoutBce(c.config);
      if (untrainedClassifier) withoutBce.push(spec.name);
      const imageLabels = main.imageStudy ? main.imageStudy.map((s) => labels[s]) : labels;
      const towers = [
        ["image", image, main.imageRows, imageLabels],
        ["text", text, n, labels],
      ] as const;
      const roc: Record<string, RocXY[]> = {};
      for (const [tower, x, count, truth] of untrainedClassifier ? [] : towers) {
        const probabilities = await p.classify(tower, x, count);
        roc[tower] = rocCurve(probabilities, truth).map(({ fpr, tpr }) => ({ fpr, tpr }));
        const s = screeningMetrics(probabilities, truth, { threshold: SCREENING_THRESHOLD });
        Object.assign(metrics, {
          [`${tower}_screening_accuracy`]: s.accuracy,
          [`${tower}_screening_sensitivity`]: s.sensitivity,
          [`${tower}_screening_specificity`]: s.specificity,
          [`${tower}_screening_AUROC`]: s.auroc,
        });
      }
      out.push({
        name: spec.name,
        kind: "checkpoint",
        source: spec.path,
        metrics,
        roc: { image: roc.image, text: roc.text },
      });
    } finally {
      p.params.buffer.destroy();
    }
  }
  const names = relevance.map((r) => r.name);
  return {
    definitions: EVAL_DEFINITIONS,
    tieRule: TIE_RULE,
    unit,
    pairRule: PAIR_RULES[unit],
    embeddings: source,
    synthetic: set.metadata.synthetic === "true",
    split,
    count: n,
    ...(unit === "image" ? { images: main.imageRows } : {}),
    relevance: names,
    relevanceRules: Object.fromEntries(names.map((r) => [r, RELEVANCE_RULES[r]])),
    screeningThreshold: SCREENING_THRESHOLD,
    notes: [
      ...(names.includes("findings")
        ? []
        : ["no finding labels in the embeddings file: findings metrics skipped"]),
      ...(options.checkpoints?.length ? [] : ["no checkpoint given: the no-head row only"]),
      ...(withoutBce.length === 0 ? [] : [
        `no screening metrics for ${withoutBce.join("; ")}: trained without the BCE term ` +
        "(w_bce 0), so the classifier is untrained",
      ]),
    ],
    rows: out,
  };
}

/**
 * Throws, naming the checkpoint, unless its heads were trained on embeddings like `set`'s: the
 * same width and, where both record them, the same encoder ids.
 */
function checkTrainedOn(c: Checkpoint, path: string, set: EmbeddingSet, source: string): void {
  if (c.head.inDim !== set.dim) {
    throw new Error(
      `${path}: its heads take ${c.head.inDim}-wide embeddings, ${source} holds ` +
        `${set.dim}-wide ones; evaluate a checkpoint trained on these embeddings' encoder`,
    );
  }
  const trained = (c.config.dataset ?? {}) as Record<string, unknown>;
  for (const key of ["image_encoder", "text_encoder"] as const) {
    const was = trained[key], now = set.metadata[key];
    if (typeof was === "string" && now !== undefined && was !== now) {
      throw new Error(
        `${path}: trained on embeddings of ${key.replace("_", " ")} ${was}, but ${source} ` +
          `was embedded by ${now}; evaluate it on embeddings of the encoder it was trained on`,
      );
    }
  }
}
