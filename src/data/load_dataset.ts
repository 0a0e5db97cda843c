/**
 * One entry point for every dataset the CLI knows (`--dataset`): loads the records with the
 * matching adapter, then gives patients without a split one (seeded, patient-level).
 *
 * @module
 */

import { join } from "node:path";
import { loadIuXrayCsv } from "./iu_xray_csv.ts";
import { loadManifest, RECORD_COLUMNS } from "./manifest.ts";
import { loadMimicCxr } from "./mimic_cxr.ts";
import { loadOpenI } from "./openi.ts";
import { loadR2Gen } from "./r2gen.ts";
import type { LoadResult } from "./record.ts";
import { assignPatientSplits } from "./splits.ts";
import { loadOrGenerateSyntheticCxr } from "./synthetic_cxr.ts";

/** The datasets `--dataset` accepts. */
export const DATASETS = ["synthetic", "openi", "iu-csv", "r2gen", "mimic", "manifest"] as const;

/** A dataset kind. */
export type DatasetKind = (typeof DATASETS)[number];

/** Where a dataset lives and how to read it. */
export interface DatasetOptions {
  /** Which adapter. */
  dataset: DatasetKind;
  /**
   * `synthetic`: output folder; `openi`: folder with `ecgen-radiology/` and `images/`; `iu-csv`:
   * the CSV file; `r2gen`: folder with `annotation.json` and `images/`; `mimic`: the MIMIC-CXR-JPG
   * root; `manifest`: the manifest file (columns as `writeManifest` writes them).
   */
  dataDir: string;
  /** Image folder, where the layout above does not hold (openi, iu-csv, r2gen). */
  imagesDir?: string;
  /** R2Gen has no labels: derive them from the report text (negation-aware rule). */
  labelFromText?: boolean;
  /** Seed of generated data and of patient-level splits. */
  seed: number;
  /** Number of synthetic studies. */
  syntheticCount?: number;
  /** Fail on the first bad row instead of skipping bad rows with a report. */
  strict?: boolean;
}

/**
 * Loads (or, for `synthetic`, generates once and then reuses while count and seed stay the same) a
 * dataset with splits assigned.
 * @example
 * ```ts
 * const { records } = await loadDataset({
 *   dataset: "iu-csv",
 *   dataDir: "tests/fixtures/data/iu_xray_csv/dataset.csv",
 *   seed: 0,
 * });
 * records.every((r) => r.split !== null); // true: patients without a split got one
 * ```
 */
export async function loadDataset(o: DatasetOptions): Promise<LoadResult> {
  const strict = o.strict ?? false;
  let result: LoadResult;
  switch (o.dataset) {
    case "synthetic":
      result = await loadOrGenerateSyntheticCxr({
        count: o.syntheticCount ?? 1000,
        seed: o.seed,
        outDir: o.dataDir,
      });
      break;
    case "openi":
      result = await loadOpenI({
        reportsDir: join(o.dataDir, "ecgen-radiology"),
        imagesDir: o.imagesDir ?? join(o.dataDir, "images"),
        strict,
      });
      break;
    case "iu-csv":
      result = await loadIuXrayCsv({ path: o.dataDir, imageRoot: o.imagesDir, strict });
      break;
    case "r2gen":
      result = await loadR2Gen({
        path: join(o.dataDir, "annotation.json"),
        imagesDir: o.imagesDir ?? join(o.dataDir, "images"),
        labelFromText: o.labelFromText,
        strict,
      });
      break;
    case "mimic":
      result = await loadMimicCxr({ root: o.dataDir, strict });
      break;
    case "manifest":
      result = await loadManifest({ path: o.dataDir, ...RECORD_COLUMNS, strict });
      break;
    default:
      throw new Error(`--dataset must be one of ${DATASETS.join(", ")}, got "${o.dataset}"`);
  }
  if (result.records.length === 0) {
    throw new Error(
      `${o.dataset} at ${o.dataDir}: no usable records (${result.problems.length} problems)`,
    );
  }
  const split = assignPatientSplits(result.records, { seed: o.seed, strict });
  return { records: split.records, problems: [...result.problems, ...split.problems] };
}
