/**
 * File helpers the dataset adapters share: text (gzip-aware), CSV with the line number of every
 * row (csv-parse: quotes, commas and newlines inside fields), line numbers of text offsets, and
 * image existence checks.
 *
 * @module
 */

import { parse } from "csv-parse/sync";
import { DatasetError, type Problem } from "./record.ts";

/**
 * Reads a UTF-8 text file; a name ending in `.gz` is gunzipped first (MIMIC ships `.csv.gz`).
 * @example
 * ```ts
 * const text = await readText("tests/fixtures/data/mimic_cxr/mimic-cxr-2.0.0-split.csv.gz");
 * text.split("\n")[0]; // "dicom_id,study_id,subject_id,split"
 * ```
 */
export async function readText(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  if (!path.endsWith(".gz")) return new TextDecoder().decode(bytes);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

/**
 * The first of `candidates` that exists, else undefined (e.g. a `.csv` or its `.csv.gz`).
 * @example
 * ```ts
 * const dir = "tests/fixtures/data/mimic_cxr";
 * firstExisting([`${dir}/mimic-cxr-2.0.0-split.csv`, `${dir}/mimic-cxr-2.0.0-split.csv.gz`]);
 * // "tests/fixtures/data/mimic_cxr/mimic-cxr-2.0.0-split.csv.gz"
 * ```
 */
export function firstExisting(candidates: readonly string[]): string | undefined {
  return candidates.find(isFile);
}

/**
 * True when `path` is an existing file.
 * @example
 * ```ts
 * isFile("tests/fixtures/data/openi/png/CXR1_1_IM-0001-3001.png"); // true
 * isFile("tests/fixtures/data/openi/png"); // false: a directory
 * ```
 */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/**
 * Turns character offsets of `text` into 1-based line numbers (binary search over the newline
 * positions, so it stays fast on large files).
 * @example
 * ```ts
 * const lineOf = lineIndex("a\nb\nc");
 * lineOf(2); // 2
 * ```
 */
export function lineIndex(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset: number) => {
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** One CSV data row: its first line in the file and its fields by column name. */
export interface CsvRow {
  /** 1-based line where the row starts (a quoted field may span several lines). */
  line: number;
  /** Field values by header name; a missing field is "". */
  values: Record<string, string>;
}

/** A parsed CSV file. */
export interface CsvTable {
  /** The header's column names. */
  header: string[];
  /** Rows with the right number of fields. */
  rows: CsvRow[];
  /** Rows with too few or too many fields (kind `malformed`). */
  problems: Problem[];
}

/**
 * Parses CSV text with a header row. A row whose field count differs from the header's becomes
 * a problem; a broken file (e.g. an unclosed quote) throws a {@link DatasetError} naming the line.
 * Missing `required` columns throw too.
 * @example
 * ```ts
 * const { rows } = parseCsv("r.csv", 'id,text\n1,"a, ""b"""\n', ["id", "text"]);
 * rows[0].values.text; // 'a, "b"'
 * ```
 */
export function parseCsv(file: string, text: string, required: readonly string[] = []): CsvTable {
  let parsed: { record: string[]; raw: string; info: { lines: number } }[];
  try {
    parsed = parse(text, {
      bom: true,
      info: true,
      raw: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof parsed;
  } catch (e) {
    const line = (e as { lines?: number }).lines ?? 0;
    const reason = `cannot parse CSV: ${(e as Error).message}`;
    throw new DatasetError("csv", [{ file, line, reason, kind: "malformed" }]);
  }
  if (parsed.length === 0) {
    throw new DatasetError("csv", [{ file, line: 1, reason: "no header row", kind: "malformed" }]);
  }
  const header = parsed[0].record.map((h) => h.trim());
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    const reason = `missing column(s) ${missing.join(", ")}; header has ${header.join(", ")}`;
    throw new DatasetError("csv", [{ file, line: 1, reason, kind: "malformed" }]);
  }
  const rows: CsvRow[] = [];
  const problems: Problem[] = [];
  for (const { record, raw, info } of parsed.slice(1)) {
    const line = info.lines - (raw.replace(/\r?\n$/, "").match(/\n/g)?.length ?? 0);
    if (record.length !== header.length) {
      const reason = `${record.length} fields, expected ${header.length} (${header.join(",")})`;
      problems.push({ file, line, reason, kind: "malformed" });
      continue;
    }
    const values: Record<string, string> = {};
    header.forEach((h, i) => values[h] = record[i]);
    rows.push({ line, values });
  }
  return { header, rows, problems };
}

/**
 * Reads and parses a CSV file (gzip-aware), see {@link parseCsv}.
 * @example
 * ```ts
 * const path = "tests/fixtures/data/iu_xray_csv/dataset.csv";
 * const table = await readCsv(path, ["report_id", "image_path"]);
 * table.rows[0].values.report_id; // "CXR1"
 * ```
 */
export async function readCsv(path: string, required: readonly string[] = []): Promise<CsvTable> {
  return parseCsv(path, await readText(path), required);
}
