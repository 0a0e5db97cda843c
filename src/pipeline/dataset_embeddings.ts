/**
 * A dataset named by flags, loaded once and embedded by a weights folder through the embedding
 * cache: what `deno task train --dataset` trains on and what `deno task eval --dataset` evaluates
 * (once per `--weights` folder, so every encoder embeds the same records).
 *
 * @module
 */

import { join } from "node:path";
import { type DatasetKind, loadDataset } from "../data/load_dataset.ts";
import type { StudyRecord } from "../data/record.ts";
import { embedRecords } from "../encoders/embed_dataset.ts";
import type { EncoderRuntime } from "../encoders/onnx_runtime.ts";
import { summarizeSkipped } from "../encoders/skipped_inputs.ts";
import type { EmbeddingSet } from "../io/embeddings.ts";

/** Where a dataset lives, how its records are read and where embeddings are cached. */
export interface DatasetInput {
  /** Which adapter. */
  dataset: DatasetKind;
  /** Where it lives; null for `synthetic` means `.cache/demo/synthetic`. */
  dataDir: string | null;
  /** Image folder, where the layout differs. */
  imagesDir?: string;
  /** r2gen: label normal/abnormal from the report text. */
  labelFromText: boolean;
  /** Studies in a generated synthetic set. */
  syntheticCount: number;
  /** Seed of generated data and of patient-level splits. */
  seed: number;
  /** Root of the embedding cache. */
  cacheDir: string;
  /** Fail on a bad row, image or report instead of skipping it. */
  strict: boolean;
}

/**
 * The weights folder a dataset is embedded with when none is named: the demo's tiny encoders for
 * `synthetic`, `weights/` (what `deno task weights import` writes) otherwise.
 * @example
 * ```ts
 * defaultWeights("synthetic"); // "weights/demo"
 * defaultWeights("openi"); // "weights"
 * ```
 */
export function defaultWeights(dataset: DatasetKind): string {
  return dataset === "synthetic" ? join("weights", "demo") : "weights";
}

/**
 * Loads (or generates, for `synthetic`) the records with splits; logs how many and how long.
 * @example
 * ```ts
 * const o = {
 *   dataset: "iu-csv" as const, dataDir: "tests/fixtures/data/iu_xray_csv/dataset.csv",
 *   labelFromText: false, syntheticCount: 0, seed: 0, cacheDir: ".cache/embeddings", strict: false,
 * };
 * const { records } = await datasetRecords(o, console.log); // "iu-csv: 4 studies (0 rows skipped) …"
 * ```
 */
export async function datasetRecords(
  o: DatasetInput,
  log: (line: string) => void,
): Promise<{ records: StudyRecord[]; dataDir: string }> {
  const dataDir = o.dataDir ??
    (o.dataset === "synthetic" ? join(".cache", "demo", "synthetic") : null);
  if (!dataDir) throw new Error(`--dataset ${o.dataset} needs --data-dir (see --help)`);
  const t0 = performance.now();
  const { records, problems } = await loadDataset({
    dataset: o.dataset,
    dataDir,
    imagesDir: o.imagesDir,
    labelFromText: o.labelFromText,
    seed: o.seed,
    syntheticCount: o.syntheticCount,
    strict: o.strict,
  });
  log(
    `${o.dataset}: ${records.length} studies (${problems.length} rows skipped) ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { records, dataDir };
}

/**
 * Embeds `records` with the towers of `weightsDir` through the cache (`o.cacheDir`); logs what
 * was embedded. `skipped` is the summary of skipped inputs ("" when none).
 * @example
 * ```ts
 * import { generateSyntheticCxr } from "../data/synthetic_cxr.ts";
 * const dir = await Deno.makeTempDir();
 * const { records } = await generateSyntheticCxr({ count: 4, seed: 1, outDir: dir, size: 64 });
 * const o = { cacheDir: `${dir}/cache`, strict: false };
 * const { set } = await embedWith(records, "weights/demo", o, () => {}); // SYNTHETIC
 * set.count; // 4
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function embedWith(
  records: readonly StudyRecord[],
  weightsDir: string,
  o: Pick<DatasetInput, "cacheDir" | "strict"> & { encoderRuntime?: EncoderRuntime },
  log: (line: string) => void,
): Promise<{ set: EmbeddingSet; skipped: string }> {
  const embedded = await embedRecords(records, {
    weightsDir,
    cacheDir: o.cacheDir,
    runtime: o.encoderRuntime,
    strict: o.strict,
    info: log,
  });
  log(
    `embedded ${embedded.embedded.images} images and ${embedded.embedded.reports} reports ` +
      `with ${weightsDir} (the rest from the cache ${o.cacheDir})`,
  );
  return {
    set: embedded.set,
    skipped: summarizeSkipped(embedded.skipped, embedded.dropped, embedded.set.count),
  };
}
