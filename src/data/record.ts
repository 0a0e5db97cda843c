/**
 * The study record every dataset adapter produces, the problems an adapter reports for the rows
 * it could not use, and the validation helpers they share.
 *
 * A record is one study: one or more images of one patient with one report and a binary label
 * (0 normal, 1 abnormal). Adapters never drop a row silently: each bad row becomes a
 * {@link Problem} naming its file and line; by default the row is skipped and a one-line summary
 * is logged, with `strict: true` the load fails with a {@link DatasetError} listing them all.
 *
 * @module
 */

/** A dataset split. Sources that say `val`, `valid` or `validate` are mapped to `validation`. */
export type Split = "train" | "validation" | "test";

/** Binary label: 0 normal, 1 abnormal. */
export type Label = 0 | 1;

/** The three splits in their usual order. */
export const SPLITS: readonly Split[] = ["train", "validation", "test"];

/** One study: images, report, label. */
export interface StudyRecord {
  /** Unique within a dataset, e.g. `CXR1`, `s50414267`, `synthetic-000123`. */
  id: string;
  /** The patient; no patient may appear in two splits. */
  patientId: string;
  /** The split the dataset assigns, or null when it has none (see `assignPatientSplits`). */
  split: Split | null;
  /** Image files (absolute or relative to the working directory), at least one. */
  imagePaths: string[];
  /** Findings + impression, as built by {@link joinReport}. */
  report: string;
  /** 0 normal, 1 abnormal. */
  label: Label;
  /** The dataset's positive finding tags (MeSH major terms, CheXpert labels, …); [] if none. */
  findings: string[];
  /** Where the record comes from (`source`), whether it is synthetic, and adapter extras. */
  meta?: RecordMeta;
}

/** Provenance and adapter-specific extras of a record. */
export interface RecordMeta {
  /** The adapter: `openi`, `r2gen`, `iu-xray-csv`, `mimic-cxr`, `manifest`, `synthetic`. */
  source: string;
  /** True for generated (not real) data. */
  synthetic?: boolean;
  /** Anything else the adapter keeps, e.g. view positions. */
  [key: string]: string | number | boolean | string[] | undefined;
}

/** What kind of problem made a row unusable. */
export type ProblemKind =
  | "missing-image"
  | "empty-report"
  | "unknown-label"
  | "malformed"
  | "duplicate"
  | "split-conflict";

/** A row an adapter could not use: where it is and why. */
export interface Problem {
  /** The file the row comes from. */
  file: string;
  /** 1-based line of the row (or element) in that file; 0 when a line has no meaning. */
  line: number;
  /** What is wrong, naming the field and the value. */
  reason: string;
  /** The category, for summaries. */
  kind: ProblemKind;
}

/** What every adapter returns. */
export interface LoadResult {
  /** The usable records, in file order. */
  records: StudyRecord[];
  /** One entry per skipped row (empty when all rows were usable). */
  problems: Problem[];
}

/** Options every adapter takes. */
export interface LoadOptions {
  /** Fail with a {@link DatasetError} listing every problem instead of skipping bad rows. */
  strict?: boolean;
  /** Check that every image file exists; a missing file makes its row bad. Default true. */
  checkImages?: boolean;
  /** Receives the one-line summary of skipped rows; default `console.warn`. */
  log?: (message: string) => void;
}

/**
 * Thrown by a strict load (or a file that cannot be read at all); lists the problems.
 * @example
 * ```ts
 * import { loadOpenI } from "./openi.ts";
 * try {
 *   await loadOpenI({
 *     reportsDir: "tests/fixtures/data/openi/ecgen-radiology", // holds bad reports on purpose
 *     imagesDir: "tests/fixtures/data/openi/png",
 *     strict: true,
 *   });
 * } catch (e) {
 *   if (e instanceof DatasetError) console.error(e.problems.length, "bad reports");
 * }
 * ```
 */
export class DatasetError extends Error {
  /** Every problem found. */
  readonly problems: Problem[];

  /**
   * @param source the adapter, e.g. `openi`
   * @param problems the problems found
   */
  constructor(source: string, problems: Problem[]) {
    const shown = problems.slice(0, 20).map((p) => `  ${formatProblem(p)}`);
    const more = problems.length > shown.length ? [`  … and ${problems.length - 20} more`] : [];
    super(`${source}: ${problems.length} bad row(s)\n${[...shown, ...more].join("\n")}`);
    this.name = "DatasetError";
    this.problems = problems;
  }
}

/**
 * `file:line: reason`, the form editors and terminals link.
 * @example
 * ```ts
 * formatProblem({ file: "a.csv", line: 3, reason: "empty report", kind: "empty-report" });
 * // "a.csv:3: empty report"
 * ```
 */
export function formatProblem(p: Problem): string {
  return `${p.file}${p.line > 0 ? `:${p.line}` : ""}: ${p.reason}`;
}

/**
 * One line: how many rows were kept and skipped, per kind, and the first problem.
 * @example
 * ```ts
 * summarizeProblems("openi", 10, [{ file: "a.xml", line: 4, reason: "no image", kind: "missing-image" }]);
 * // "openi: kept 10 of 11 rows; skipped 1 (1 missing-image); first: a.xml:4: no image"
 * ```
 */
export function summarizeProblems(source: string, kept: number, problems: Problem[]): string {
  const total = kept + problems.length;
  if (problems.length === 0) return `${source}: kept ${kept} of ${total} rows`;
  const counts = new Map<ProblemKind, number>();
  for (const p of problems) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
  const kinds = [...counts].map(([k, n]) => `${n} ${k}`).join(", ");
  return `${source}: kept ${kept} of ${total} rows; skipped ${problems.length} (${kinds}); ` +
    `first: ${formatProblem(problems[0])}`;
}

/**
 * Ends a load the same way for every adapter: throws a {@link DatasetError} in strict mode when
 * there are problems, else logs the summary (when there is something to say) and returns.
 * @example
 * ```ts
 * const result = finishLoad("manifest", [], [], { strict: false });
 * ```
 */
export function finishLoad(
  source: string,
  records: StudyRecord[],
  problems: Problem[],
  opts: LoadOptions,
): LoadResult {
  if (problems.length > 0) {
    if (opts.strict) throw new DatasetError(source, problems);
    (opts.log ?? console.warn)(summarizeProblems(source, records.length, problems));
  }
  return { records, problems };
}

/**
 * Maps a dataset's split name to a {@link Split}: `train`; `val`, `valid`, `validate`,
 * `validation`, `dev`; `test`. Case and surrounding spaces are ignored. Returns null for an
 * empty value and undefined for an unknown one.
 * @example
 * ```ts
 * normalizeSplit("validate"); // "validation"
 * normalizeSplit(""); // null
 * normalizeSplit("holdout"); // undefined
 * ```
 */
export function normalizeSplit(value: string | null | undefined): Split | null | undefined {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "") return null;
  if (v === "train" || v === "training") return "train";
  if (["val", "valid", "validate", "validation", "dev"].includes(v)) return "validation";
  if (v === "test" || v === "testing") return "test";
  return undefined;
}

/**
 * The report text of a record: `FINDINGS: …` and `IMPRESSION: …` on two lines, whitespace
 * collapsed, an empty section left out (so a report with no findings is its impression only).
 * Returns "" when both are empty.
 * @example
 * ```ts
 * joinReport("Lungs are clear.", "Normal chest."); // "FINDINGS: Lungs are clear.\nIMPRESSION: Normal chest."
 * ```
 */
export function joinReport(findings: string | undefined, impression: string | undefined): string {
  const f = collapse(findings), i = collapse(impression);
  return [f && `FINDINGS: ${f}`, i && `IMPRESSION: ${i}`].filter(Boolean).join("\n");
}

/**
 * Trims and collapses runs of whitespace (including newlines) to one space.
 * @example
 * ```ts
 * collapse("  a \n b "); // "a b"
 * ```
 */
export function collapse(text: string | undefined | null): string {
  return (text ?? "").replace(/\s+/g, " ").trim();
}

/**
 * What is wrong with a record, as a list of messages (empty when it is valid): empty id or
 * patient, unknown split, no images, empty image path, empty report, label not 0/1, findings
 * not strings.
 * @example
 * ```ts
 * validateRecord({ id: "a", patientId: "a", split: null, imagePaths: [], report: "x", label: 0, findings: [] });
 * // ["a: no image paths"]
 * ```
 */
export function validateRecord(r: StudyRecord): string[] {
  const errors: string[] = [];
  const name = r.id || "(no id)";
  if (typeof r.id !== "string" || r.id.trim() === "") errors.push(`${name}: empty id`);
  if (typeof r.patientId !== "string" || r.patientId.trim() === "") {
    errors.push(`${name}: empty patientId`);
  }
  if (r.split !== null && !SPLITS.includes(r.split)) {
    errors.push(`${name}: split ${JSON.stringify(r.split)} is not train, validation, test or null`);
  }
  if (!Array.isArray(r.imagePaths) || r.imagePaths.length === 0) {
    errors.push(`${name}: no image paths`);
  } else if (r.imagePaths.some((p) => typeof p !== "string" || p.trim() === "")) {
    errors.push(`${name}: empty image path`);
  }
  if (typeof r.report !== "string" || r.report.trim() === "") errors.push(`${name}: empty report`);
  if (r.label !== 0 && r.label !== 1) {
    errors.push(`${name}: label ${JSON.stringify(r.label)} is not 0 (normal) or 1 (abnormal)`);
  }
  if (!Array.isArray(r.findings) || r.findings.some((f) => typeof f !== "string")) {
    errors.push(`${name}: findings must be an array of strings`);
  }
  return errors;
}

/**
 * Throws listing every invalid record (up to 20), duplicate id and patient found in two splits.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const record: StudyRecord = {
 *   id: "CXR1", patientId: "CXR1", split: "train", imagePaths: ["CXR1_1.png"],
 *   report: "FINDINGS: Clear lungs.", label: 0, findings: [],
 * };
 * assertRecords([record]); // before embedding or training
 * assert.throws(() => assertRecords([record, record]), /CXR1: duplicate id/);
 * ```
 */
export function assertRecords(records: readonly StudyRecord[]): void {
  const errors = records.flatMap(validateRecord);
  const seen = new Set<string>();
  for (const r of records) {
    if (seen.has(r.id)) errors.push(`${r.id}: duplicate id`);
    seen.add(r.id);
  }
  errors.push(...patientSplitLeaks(records));
  if (errors.length > 0) {
    const more = errors.length > 20 ? `\n  … and ${errors.length - 20} more` : "";
    throw new Error(
      `${errors.length} invalid record(s):\n  ${errors.slice(0, 20).join("\n  ")}${more}`,
    );
  }
}

/**
 * One message per patient whose records lie in more than one split (records with a null split
 * are ignored).
 * @example
 * ```ts
 * const a: StudyRecord = {
 *   id: "s1", patientId: "p", split: "train", imagePaths: ["s1.png"], report: "x", label: 0,
 *   findings: [],
 * };
 * patientSplitLeaks([a, { ...a, id: "s2", split: "test" }]);
 * // ["patient p is in train and test"]
 * ```
 */
export function patientSplitLeaks(records: readonly StudyRecord[]): string[] {
  const splits = new Map<string, Set<Split>>();
  for (const r of records) {
    if (r.split === null) continue;
    const s = splits.get(r.patientId) ?? new Set<Split>();
    s.add(r.split);
    splits.set(r.patientId, s);
  }
  return [...splits].filter(([, s]) => s.size > 1).map(([p, s]) =>
    `patient ${p} is in ${SPLITS.filter((x) => s.has(x)).join(" and ")}`
  );
}
