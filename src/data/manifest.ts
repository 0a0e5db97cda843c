/**
 * Generic manifests: a CSV or JSONL file with one study per row, its columns named by options
 * (the CLI's column flags). Also writes records as a JSONL manifest that {@link RECORD_COLUMNS}
 * reads back, so any adapter's output (or the synthetic set) can be saved and reloaded.
 *
 * In a CSV, a column holding several values (image paths, findings) joins them with `|`; in
 * JSONL such a field may be an array. Image paths are relative to `imageRoot` (default: the
 * manifest's directory) unless absolute.
 *
 * @module
 */

import { dirname, isAbsolute, join, relative } from "node:path";
import { isFile, lineIndex, readCsv, readText } from "./files.ts";
import {
  collapse,
  finishLoad,
  joinReport,
  type LoadOptions,
  type LoadResult,
  normalizeSplit,
  type Problem,
  type RecordMeta,
  type StudyRecord,
} from "./record.ts";

/** Which columns hold what. */
export interface ManifestColumns {
  /** Columns with image paths (each one path, or several joined by `separator` / an array). */
  imageColumns: string[];
  /** The report text (lines kept, spaces collapsed); the findings when `impressionColumn` is
   * also given. */
  reportColumn: string;
  /** Optional impression column; with it the report is built by `joinReport`. */
  impressionColumn?: string;
  /** The label column. */
  labelColumn: string;
  /** The label column's value for normal, e.g. `0` or `normal`. */
  normalValue: string | number;
  /** Values meaning abnormal; default: any non-empty value other than `normalValue`. */
  abnormalValues?: (string | number)[];
  /** Study id column; default `row-<line>`. */
  idColumn?: string;
  /** Patient id column; default the study id (one study per patient). */
  patientColumn?: string;
  /** Split column (`train`, `val`/`validation`/…, `test`, or empty); default none (null). */
  splitColumn?: string;
  /** Finding tags column (joined by `separator` / an array); default none ([]). */
  findingsColumn?: string;
  /** JSONL only: an object column kept as the record's `meta`. */
  metaColumn?: string;
}

/** Where the manifest is, its format and columns. */
export interface ManifestOptions extends LoadOptions, ManifestColumns {
  /** The manifest file (`.csv`, `.csv.gz`, `.jsonl`, `.ndjson`). */
  path: string;
  /** Default from the extension: `jsonl` for `.jsonl`/`.ndjson`, else `csv`. */
  format?: "csv" | "jsonl";
  /** Separator of several values in one CSV field; default `|`. */
  separator?: string;
  /** Directory relative image paths start from; default the manifest's directory. */
  imageRoot?: string;
}

/** The columns of a manifest written by {@link writeManifest}. */
export const RECORD_COLUMNS: ManifestColumns = {
  imageColumns: ["imagePaths"],
  reportColumn: "report",
  labelColumn: "label",
  normalValue: 0,
  abnormalValues: [1],
  idColumn: "id",
  patientColumn: "patientId",
  splitColumn: "split",
  findingsColumn: "findings",
  metaColumn: "meta",
};

type Row = { line: number; values: Record<string, unknown> };

/**
 * Loads a CSV or JSONL manifest. Bad rows (unparsable JSON line, missing column, empty id,
 * duplicate id, no or missing image, empty report, a label that is neither the normal nor an
 * abnormal value, an unknown split) are problems with their line.
 * @example
 * ```ts
 * const { records } = await loadManifest({
 *   path: "tests/fixtures/data/manifest/studies.csv", // images/a1.png etc. beside it
 *   imageColumns: ["frontal", "lateral"],
 *   reportColumn: "findings",
 *   impressionColumn: "impression",
 *   labelColumn: "diagnosis",
 *   normalValue: "normal",
 *   idColumn: "study",
 *   patientColumn: "patient",
 *   splitColumn: "fold",
 * });
 * ```
 */
export async function loadManifest(opts: ManifestOptions): Promise<LoadResult> {
  const file = opts.path;
  const jsonl = (opts.format ?? (/\.(jsonl|ndjson)(\.gz)?$/i.test(file) ? "jsonl" : "csv")) ===
    "jsonl";
  const problems: Problem[] = [];
  const rows: Row[] = [];
  const required = [
    ...opts.imageColumns,
    opts.reportColumn,
    opts.labelColumn,
    ...[opts.impressionColumn, opts.idColumn, opts.patientColumn, opts.splitColumn]
      .filter((c): c is string => c !== undefined),
  ];
  if (jsonl) {
    const text = await readText(file);
    const lineOf = lineIndex(text);
    for (const m of text.matchAll(/[^\n]+/g)) {
      if (!m[0].trim()) continue;
      const line = lineOf(m.index);
      try {
        const values = JSON.parse(m[0]);
        if (!values || typeof values !== "object" || Array.isArray(values)) {
          throw new Error("not a JSON object");
        }
        const missing = required.filter((c) => !(c in values));
        if (missing.length > 0) {
          const reason = `missing field(s) ${missing.join(", ")}`;
          problems.push({ file, line, reason, kind: "malformed" });
        } else rows.push({ line, values });
      } catch (e) {
        const reason = `bad JSON line: ${(e as Error).message}`;
        problems.push({ file, line, reason, kind: "malformed" });
      }
    }
  } else {
    const table = await readCsv(file, required);
    problems.push(...table.problems);
    rows.push(...table.rows);
  }

  const sep = opts.separator ?? "|";
  const list = (v: unknown): string[] =>
    (Array.isArray(v) ? v.map(String) : String(v ?? "").split(sep)).map((s) => s.trim())
      .filter(Boolean);
  const str = (v: unknown) => (v === null || v === undefined ? "" : String(v)).trim();
  const root = opts.imageRoot ?? dirname(file);
  const normal = str(opts.normalValue);
  const abnormal = opts.abnormalValues?.map(str);
  const records: StudyRecord[] = [];
  const seen = new Map<string, number>();
  for (const { line, values: v } of rows) {
    const id = opts.idColumn ? str(v[opts.idColumn]) : `row-${line}`;
    const bad = (kind: Problem["kind"], reason: string) =>
      problems.push({ file, line, reason: `${id || "(no id)"}: ${reason}`, kind });
    if (!id) {
      bad("malformed", `empty ${opts.idColumn}`);
      continue;
    }
    if (seen.has(id)) {
      bad("duplicate", `duplicate id (first on line ${seen.get(id)})`);
      continue;
    }
    seen.set(id, line);
    const report = opts.impressionColumn
      ? joinReport(str(v[opts.reportColumn]), str(v[opts.impressionColumn]))
      : str(v[opts.reportColumn]).split("\n").map(collapse).filter(Boolean).join("\n");
    if (!report) {
      bad("empty-report", `empty ${opts.reportColumn}`);
      continue;
    }
    const labelValue = str(v[opts.labelColumn]);
    const isAbnormal = abnormal ? abnormal.includes(labelValue) : labelValue !== "";
    if (labelValue !== normal && !isAbnormal) {
      const expected = abnormal ? `${normal} or ${abnormal.join("/")}` : `non-empty`;
      bad(
        "unknown-label",
        `${opts.labelColumn} ${JSON.stringify(labelValue)} (expected ${expected})`,
      );
      continue;
    }
    const split = opts.splitColumn ? normalizeSplit(str(v[opts.splitColumn])) : null;
    if (split === undefined) {
      bad("malformed", `unknown ${opts.splitColumn} ${JSON.stringify(v[opts.splitColumn!])}`);
      continue;
    }
    const imagePaths = opts.imageColumns.flatMap((c) => list(v[c]))
      .map((p) => isAbsolute(p) ? p : join(root, p));
    const missing = opts.checkImages === false ? undefined : imagePaths.find((p) => !isFile(p));
    if (imagePaths.length === 0 || missing) {
      bad("missing-image", missing ? `image file ${missing} not found` : "no image path");
      continue;
    }
    const meta = opts.metaColumn && v[opts.metaColumn] && typeof v[opts.metaColumn] === "object"
      ? v[opts.metaColumn] as RecordMeta
      : undefined;
    records.push({
      id,
      patientId: opts.patientColumn ? str(v[opts.patientColumn]) || id : id,
      split,
      imagePaths,
      report,
      label: labelValue === normal ? 0 : 1,
      findings: opts.findingsColumn ? list(v[opts.findingsColumn]) : [],
      meta: { ...meta, source: meta?.source ?? "manifest" },
    });
  }
  return finishLoad("manifest", records, problems, opts);
}

/**
 * Writes records as a JSONL manifest (one record per line, image paths relative to the
 * manifest's directory), readable by `loadManifest({ path, ...RECORD_COLUMNS })`.
 * @example
 * ```ts
 * import { generateSyntheticCxr } from "./synthetic_cxr.ts";
 * const dir = await Deno.makeTempDir();
 * const { records } = await generateSyntheticCxr({ count: 4, seed: 1, outDir: dir, size: 32 });
 * await writeManifest(`${dir}/copy.jsonl`, records);
 * const again = await loadManifest({ path: `${dir}/copy.jsonl`, ...RECORD_COLUMNS });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeManifest(path: string, records: readonly StudyRecord[]): Promise<void> {
  const dir = dirname(path);
  const lines = records.map((r) =>
    JSON.stringify({ ...r, imagePaths: r.imagePaths.map((p) => relative(dir, p)) })
  );
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}
