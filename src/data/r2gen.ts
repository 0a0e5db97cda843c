/**
 * The R2Gen `annotation.json` layout used for IU X-ray and MIMIC-CXR report generation:
 *
 * ```json
 * { "train": [{ "id": "CXR2384_IM-0942", "report": "…",
 *               "image_path": ["CXR2384_IM-0942/0.png", "CXR2384_IM-0942/1.png"], "split": "train" }],
 *   "val": […], "test": […] }
 * ```
 *
 * MIMIC-CXR entries also carry `study_id` and `subject_id` (one entry per image, `id` the
 * dicom id, paths like `p10/p10000032/s50414267/<dicom_id>.jpg`). Image paths are relative to
 * the images directory (`<annotation dir>/images` by default). The report is kept as written
 * (R2Gen's files hold the findings text), whitespace collapsed.
 *
 * R2Gen files carry **no normal/abnormal label**. The caller chooses the source explicitly:
 * `labels`, a table keyed by study (built with `labelTable` from `loadOpenI`, `loadIuXrayCsv` or
 * `loadMimicCxr` records: IU keys are the uId before the first `_` of the entry id, MIMIC keys
 * `s<study_id>`), and/or `labelFromText: true`, the negation-aware keyword rule of
 * `labelFromReportText` (a heuristic; ~93% agreement with the IU MeSH labels). With both, the
 * table wins and the text rule fills its gaps. With neither, loading fails.
 *
 * Patients: `p<subject_id>` for MIMIC entries; for IU the uId (one study per patient).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { isFile, lineIndex, readText } from "./files.ts";
import { labelFromReportText, type LabelInfo, mentionedFindings } from "./labels.ts";
import {
  collapse,
  finishLoad,
  type LoadOptions,
  type LoadResult,
  normalizeSplit,
  type Problem,
  type StudyRecord,
} from "./record.ts";

/** One entry of an R2Gen annotation file. */
export interface R2GenEntry {
  /** IU: `CXR2384_IM-0942`; MIMIC: the dicom id. */
  id?: string;
  /** The report text. */
  report?: string;
  /** Image paths relative to the images directory. */
  image_path?: string[];
  /** `train`, `val` or `test`; should match the bucket. */
  split?: string;
  /** MIMIC only. */
  study_id?: number | string;
  /** MIMIC only. */
  subject_id?: number | string;
}

/** Where the annotation file and images are, and where the labels come from. */
export interface R2GenOptions extends LoadOptions {
  /** The `annotation.json` file. */
  path: string;
  /** Directory the `image_path` values are relative to; default `<dir of path>/images`. */
  imagesDir?: string;
  /** Labels by study key (see {@link r2genStudyKey}), e.g. `labelTable(openi.records)`. */
  labels?: ReadonlyMap<string, LabelInfo>;
  /** Derive labels from the report text where `labels` has none (explicit opt-in). */
  labelFromText?: boolean;
}

/**
 * The key an entry's label is looked up by: `s<study_id>` for MIMIC entries, else the IU uId
 * (the part of `id` before the first `_`).
 * @example
 * ```ts
 * r2genStudyKey({ id: "CXR2384_IM-0942" }); // "CXR2384"
 * r2genStudyKey({ id: "02aa804e-…", study_id: 50414267 }); // "s50414267"
 * ```
 */
export function r2genStudyKey(entry: R2GenEntry): string {
  if (entry.study_id !== undefined && entry.study_id !== null) return `s${entry.study_id}`;
  return String(entry.id ?? "").split("_")[0];
}

/**
 * Loads an R2Gen annotation file. Bad entries (no id, duplicate id, no or missing image, empty
 * report, no label, `split` disagreeing with its bucket, an unknown bucket) are problems, with
 * the line of the entry's `"id"` in the file.
 * @example
 * ```ts
 * import { labelTable } from "./labels.ts";
 * import { loadOpenI } from "./openi.ts";
 * const openi = await loadOpenI({
 *   reportsDir: "tests/fixtures/data/openi/ecgen-radiology",
 *   imagesDir: "tests/fixtures/data/openi/png",
 *   checkImages: false,
 * });
 * const { records } = await loadR2Gen({
 *   path: "tests/fixtures/data/r2gen/iu_xray/annotation.json",
 *   labels: labelTable(openi.records),
 * });
 * ```
 */
export async function loadR2Gen(opts: R2GenOptions): Promise<LoadResult> {
  if (!opts.labels && !opts.labelFromText) {
    throw new Error(
      `${opts.path}: R2Gen annotations carry no normal/abnormal label; pass labels ` +
        `(e.g. labelTable(records from loadOpenI)) or labelFromText: true`,
    );
  }
  const file = opts.path;
  const text = await readText(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const reason = `not valid JSON: ${(e as Error).message}`;
    return finishLoad("r2gen", [], [{ file, line: 1, reason, kind: "malformed" }], opts);
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    const reason = `expected an object {"train": [...], "val": [...], "test": [...]}`;
    return finishLoad("r2gen", [], [{ file, line: 1, reason, kind: "malformed" }], opts);
  }
  const imagesDir = opts.imagesDir ?? join(dirname(file), "images");
  const lineOf = lineIndex(text);
  let cursor = 0;
  const records: StudyRecord[] = [];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const [bucket, entries] of Object.entries(json as Record<string, unknown>)) {
    const split = normalizeSplit(bucket);
    if (!Array.isArray(entries)) {
      const reason = `"${bucket}" is not an array of entries`;
      problems.push({ file, line: lineOf(text.indexOf(`"${bucket}"`)), reason, kind: "malformed" });
      continue;
    }
    entries.forEach((raw: R2GenEntry, index) => {
      const id = typeof raw?.id === "string" ? raw.id.trim() : "";
      if (id) {
        const at = text.indexOf(JSON.stringify(raw.id), cursor);
        if (at >= 0) cursor = at;
      }
      const where = `${bucket}[${index}]${id ? ` ${id}` : ""}`;
      const bad = (kind: Problem["kind"], reason: string) =>
        problems.push({ file, line: lineOf(cursor), reason: `${where}: ${reason}`, kind });
      if (!split) return bad("malformed", `unknown split bucket "${bucket}"`);
      if (!id) return bad("malformed", "no id");
      if (seen.has(id)) return bad("duplicate", "duplicate id");
      seen.add(id);
      if (raw.split !== undefined && normalizeSplit(raw.split) !== split) {
        return bad("split-conflict", `split "${raw.split}" but listed under "${bucket}"`);
      }
      const report = collapse(typeof raw.report === "string" ? raw.report : "");
      if (!report) return bad("empty-report", "empty report");
      const label = opts.labels?.get(r2genStudyKey(raw)) ??
        (opts.labelFromText
          ? { label: labelFromReportText(report), findings: mentionedFindings(report) }
          : undefined);
      if (!label) return bad("unknown-label", `no label for study ${r2genStudyKey(raw)}`);
      const paths = Array.isArray(raw.image_path) ? raw.image_path : [];
      if (paths.length === 0) return bad("missing-image", "no image_path");
      const imagePaths = paths.map((p) => join(imagesDir, String(p)));
      const missing = opts.checkImages === false ? [] : imagePaths.filter((p) => !isFile(p));
      if (missing.length > 0) return bad("missing-image", `image file ${missing[0]} not found`);
      const mimic = raw.subject_id !== undefined && raw.subject_id !== null;
      records.push({
        id,
        patientId: mimic ? `p${raw.subject_id}` : r2genStudyKey(raw),
        split,
        imagePaths,
        report,
        label: label.label,
        findings: [...label.findings],
        meta: { source: "r2gen" },
      });
    });
  }
  return finishLoad("r2gen", records, problems, opts);
}
