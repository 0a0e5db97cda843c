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
import { type EmbeddingSet, selectRows, type SplitName, splitRows } from "../io/embeddings.ts";
import { labelRelevance } from "../metrics/clinical.ts";
import { clinicalRetrievalMetrics, normalizeRows } from "../metrics/evaluate.ts";
import { TIE_RULE } from "../metrics/ranks.ts";
import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { rocCurve, type RocPoint, screeningMetrics } from "../metrics/screening.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { Projector } from "../model/projector.ts";

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
  /** Per-study: row i of the images pairs with row i of the reports. */
  unit: "study";
  /** The embeddings file (or what it is called). */
  embeddings: string;
  /** True when the embeddings file says it is synthetic (`__metadata__.synthetic`). */
  synthetic: boolean;
  /** Split evaluated. */
  split: SplitName;
  /** Studies in it. */
  count: number;
  /** Relevances of the clinical metrics (`label`; `findings` where finding labels exist). */
  relevance: string[];
  /** Screening threshold. */
  screeningThreshold: number;
  /** What was left out and why. */
  notes: string[];
  /** The models, no-head row first. */
  rows: EvalRow[];
}

/**
 * The no-head row's name: the text encoder id the embeddings file records (the ids name the
 * towers' weights, not their model family, so the row does not guess a name such as BiomedCLIP).
 * @example
 * ```ts
 * encoderRowName({ text_encoder: "text-fcc455e03277693c-f04cb37b-256" });
 * // "no head (text-fcc455e03277693c-f04cb37b-256)"
 * encoderRowName({}); // "no head (raw embeddings)"
 * ```
 */
export function encoderRowName(metadata: Record<string, string>): string {
  return `no head (${metadata.text_encoder ?? "raw embeddings"})`;
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

/**
 * Evaluates the raw embeddings (cosine, no head) and each checkpoint on `split` of `set`: the
 * retrieval metrics of {@link clinicalRetrievalMetrics} in both directions with label relevance
 * (the embeddings format carries no finding labels, so no findings relevance: a note says so), and
 * for checkpoints the screening metrics of `Projector.classify` on image and report embeddings.
 * `source` names the embeddings in errors. Throws, naming the checkpoint, when its heads take
 * another embedding width.
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
  options: { split?: SplitName; checkpoints?: readonly CheckpointSpec[] } = {},
): Promise<EvalResult> {
  const split = options.split ?? "test";
  const rows = splitRows(set, split);
  if (rows.length < 2) {
    throw new Error(`${source}: the ${split} split has ${rows.length} pairs; need at least 2`);
  }
  const n = rows.length;
  const image = selectRows(set.image, rows, set.dim), text = selectRows(set.text, rows, set.dim);
  const labels = Int32Array.from(rows, (r) => set.label[r]);
  const relevance = [labelRelevance(labels)];
  const pairs = async (zImage: GpuView, zText: GpuView, dim: number, logitScale: GpuView) => {
    try {
      return await clinicalRetrievalMetrics(
        gpu,
        { zImage, zText, count: n, dim, logitScale },
        relevance,
      );
    } finally {
      zImage.buffer.destroy();
      zText.buffer.destroy();
    }
  };
  const scale = gpu.storage(new Float32Array([0]), "unit scale");
  const out: EvalRow[] = [{
    name: encoderRowName(set.metadata),
    kind: "encoder",
    source: [set.metadata.image_encoder, set.metadata.text_encoder].filter(Boolean).join(" / ") ||
      "no encoder id recorded",
    metrics: await pairs(
      await normalizeRows(gpu, gpu.storage(image), n, set.dim),
      await normalizeRows(gpu, gpu.storage(text), n, set.dim),
      set.dim,
      scale,
    ),
  }];
  scale.buffer.destroy();
  for (const spec of options.checkpoints ?? []) {
    const c = await loadCheckpoint(spec.path);
    if (c.head.inDim !== set.dim) {
      throw new Error(
        `${spec.path}: its heads take ${c.head.inDim}-wide embeddings, ${source} holds ` +
          `${set.dim}-wide ones; evaluate a checkpoint trained on these embeddings' encoder`,
      );
    }
    const p = new Projector(gpu, c.head, c.params, c.inputNorm);
    try {
      const metrics = await pairs(
        await p.projectToGpu("image", image, n),
        await p.projectToGpu("text", text, n),
        c.head.outDim,
        p.logitScale,
      );
      const roc: Record<string, RocXY[]> = {};
      for (const tower of ["image", "text"] as const) {
        const probabilities = await p.classify(tower, tower === "image" ? image : text, n);
        roc[tower] = rocCurve(probabilities, labels).map(({ fpr, tpr }) => ({ fpr, tpr }));
        const s = screeningMetrics(probabilities, labels, { threshold: SCREENING_THRESHOLD });
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
  return {
    definitions: EVAL_DEFINITIONS,
    tieRule: TIE_RULE,
    unit: "study",
    embeddings: source,
    synthetic: set.metadata.synthetic === "true",
    split,
    count: n,
    relevance: relevance.map((r) => r.name),
    screeningThreshold: SCREENING_THRESHOLD,
    notes: [
      "no finding labels in the embeddings file: findings metrics skipped",
      ...(options.checkpoints?.length ? [] : ["no checkpoint given: the no-head row only"]),
    ],
    rows: out,
  };
}
