/**
 * What the whole pipeline is configured by: the trainer's options plus where the pairs come from
 * (an embeddings file, or a dataset to embed), their defaults, and the SYNTHETIC demo's settings,
 * which apply when no data is named.
 *
 * @module
 */

import type { DatasetKind } from "../data/load_dataset.ts";
import type { EncoderRuntime } from "../encoders/onnx_runtime.ts";
import type { LossConfig } from "../model/config.ts";
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from "../train/trainer.ts";

/** Where the pairs come from, and how a dataset is embedded. */
export interface DataOptions {
  /** Embeddings file (`deno task embed`), or null to embed {@link DataOptions.dataset}. */
  trainData: string | null;
  /** Dataset to load and embed, or null. */
  dataset: DatasetKind | null;
  /** Where the dataset lives (default `.cache/demo/synthetic` for `synthetic`). */
  dataDir: string | null;
  /** Image folder, where the dataset layout differs. */
  imagesDir?: string;
  /** r2gen: label normal/abnormal from the report text. */
  labelFromText: boolean;
  /** Studies in a generated synthetic set. */
  syntheticCount: number;
  /** Encoder weights folder, or null for `weights/` (`weights/demo` for `synthetic`). */
  weights: string | null;
  /** Root of the embedding cache. */
  cacheDir: string;
  /** Where the frozen encoders run: `auto` (native onnxruntime where it loads, else WASM). */
  encoderRuntime: EncoderRuntime;
  /** Fail on a bad dataset row, image or report instead of skipping it. */
  strict: boolean;
}

/** Every option of the pipeline. */
export type PipelineOptions = Omit<TrainOptions, "trainData"> & DataOptions;

/** Options as given: any of them, including single members of the nested groups. */
export type PipelineInput =
  & Partial<Omit<PipelineOptions, "head" | "loss" | "optimizer">>
  & {
    /** Head sizes given. */
    head?: Partial<PipelineOptions["head"]>;
    /** Loss weights given. */
    loss?: Partial<LossConfig>;
    /** Optimizer settings given. */
    optimizer?: Partial<PipelineOptions["optimizer"]>;
  };

/**
 * Defaults of every option: the trainer's, no data, and the embedding cache in `.cache/`.
 * @example
 * ```ts
 * DEFAULT_PIPELINE_OPTIONS.cacheDir; // ".cache/embeddings"
 * ```
 */
export const DEFAULT_PIPELINE_OPTIONS: PipelineOptions = {
  dataset: null,
  dataDir: null,
  labelFromText: false,
  syntheticCount: 2000,
  weights: null,
  cacheDir: ".cache/embeddings",
  encoderRuntime: "auto",
  strict: false,
  trainData: null,
  ...DEFAULT_TRAIN_OPTIONS,
};

/**
 * The SYNTHETIC demo's options: small heads and batches fit the small synthetic set and a
 * CPU-only machine.
 * @example
 * ```ts
 * DEMO_OPTIONS.batchSize; // 64, where the default is 256
 * ```
 */
export const DEMO_OPTIONS: PipelineOptions = {
  ...DEFAULT_PIPELINE_OPTIONS,
  dataset: "synthetic",
  name: "demo",
  batchSize: 64,
  epochs: 30,
  warmup: 10,
  lr: 2e-3,
  head: { ...DEFAULT_PIPELINE_OPTIONS.head, hidden: 256, outDim: 128 },
};

/**
 * Whether `given` names no data (neither `trainData` nor `dataset`): the pipeline then runs the
 * SYNTHETIC demo.
 * @example
 * ```ts
 * isDemo({ epochs: 3 }); // true
 * isDemo({ trainData: "e.safetensors" }); // false
 * ```
 */
export function isDemo(given: PipelineInput): boolean {
  return !given.trainData && !given.dataset;
}

/**
 * The options `given` describes: each one left out (undefined or null) takes its default, the
 * demo's (see {@link DEMO_OPTIONS}) when `given` names no data. `given` is not changed.
 * @example
 * ```ts
 * const o = pipelineOptions({ head: { outDim: 64 } });
 * // the demo: o.dataset "synthetic", o.head.hidden 256 (the demo's), o.head.outDim 64 (given)
 * ```
 */
export function pipelineOptions(given: PipelineInput): PipelineOptions {
  const base = isDemo(given) ? DEMO_OPTIONS : DEFAULT_PIPELINE_OPTIONS;
  return {
    ...withDefaults(base, given),
    head: withDefaults(base.head, given.head),
    loss: withDefaults(base.loss, given.loss),
    optimizer: withDefaults(base.optimizer, given.optimizer),
  };
}

/** `defaults` with every member `given` sets (to neither undefined nor null). */
function withDefaults<T extends object>(defaults: T, given: object | undefined): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(given ?? {})) if (v !== undefined && v !== null) out[k] = v;
  return out as T;
}
