/**
 * Inputs the encoders could not embed (an undecodable, truncated or empty image file; a report
 * that tokenizes to nothing) and the studies left out because of them, with the one-line forms
 * the CLIs print. `embedRecords` skips such inputs and returns them; with `strict` the first one
 * is fatal.
 *
 * @module
 */

/** What {@link reportProblem} needs of a tokenizer (WordPiece's or CLIP's). */
export interface ReportTokenizer {
  /** The ids of a text, without the start/end tokens the encoder adds. */
  tokenize(text: string): readonly number[];
  /** Ids that carry no text. */
  readonly specialIds: ReadonlySet<number>;
}

/** An input that could not be embedded, and the studies that use it. */
export interface SkippedInput {
  /** An image file or a study's report. */
  kind: "image" | "report";
  /** The image file; null for a report. */
  path: string | null;
  /** Ids of the records that use it. */
  ids: string[];
  /** What is wrong with it. */
  reason: string;
}

/** A study left out of the embeddings, and why. */
export interface DroppedStudy {
  /** The record's id. */
  id: string;
  /** Why it was left out. */
  reason: string;
}

/** How many skipped inputs a summary names; the rest are counted. */
const SHOWN = 5;

/**
 * What is wrong with a report for the text tower, or null when it is fine: empty, or nothing
 * left but [CLS] and [SEP] once tokenized (only control characters, or only special tokens).
 * @example
 * ```ts
 * import { WordPieceTokenizer } from "./tokenizer.ts";
 * const tokenizer = await WordPieceTokenizer.fromVocabFile("weights/demo/vocab.txt");
 * reportProblem(tokenizer, "  \n"); // "empty report"
 * reportProblem(tokenizer, "[SEP]"); // 'report "[SEP]" has no tokens besides the start and end tokens'
 * reportProblem(tokenizer, "Heart size normal."); // null
 * ```
 */
export function reportProblem(tokenizer: ReportTokenizer, report: string): string | null {
  if (report.trim() === "") return "empty report";
  const ids = tokenizer.tokenize(report);
  if (ids.some((id) => !tokenizer.specialIds.has(id))) return null;
  const shown = report.length > 40 ? `${report.slice(0, 40)}…` : report;
  return `report ${JSON.stringify(shown)} has no tokens besides the start and end tokens`;
}

/**
 * One line naming a skipped input: `file: reason [study ids]`, or `study id: reason`.
 * @example
 * ```ts
 * formatSkipped({ kind: "image", path: "a.png", ids: ["s1"], reason: "corrupt PNG" });
 * // "a.png: corrupt PNG [study s1]"
 * ```
 */
export function formatSkipped(s: SkippedInput): string {
  const studies = `${s.ids.length === 1 ? "study" : "studies"} ${s.ids.join(", ")}`;
  return s.path === null ? `${studies}: ${s.reason}` : `${s.path}: ${s.reason} [${studies}]`;
}

/**
 * The end-of-run summary: counts of skipped images and reports and of dropped studies, then the
 * first few skipped inputs by name; "" when nothing was skipped.
 * @example
 * ```ts
 * summarizeSkipped([{ kind: "image", path: "a.png", ids: ["s1"], reason: "corrupt PNG" }], [
 *   { id: "s1", reason: "none of its 1 image(s) could be embedded" },
 * ], 9);
 * // "embed: skipped 1 image(s) and 0 report(s); dropped 1 of 10 studies ...\n  a.png: corrupt PNG [study s1]"
 * ```
 */
export function summarizeSkipped(
  skipped: readonly SkippedInput[],
  dropped: readonly DroppedStudy[],
  kept: number,
): string {
  if (skipped.length === 0) return "";
  const images = skipped.filter((s) => s.kind === "image").length;
  const lines = [
    `embed: skipped ${images} image(s) and ${skipped.length - images} report(s); dropped ` +
    `${dropped.length} of ${kept + dropped.length} studies (--strict makes bad input fatal)`,
    ...skipped.slice(0, SHOWN).map((s) => `  ${formatSkipped(s)}`),
  ];
  if (skipped.length > SHOWN) lines.push(`  … and ${skipped.length - SHOWN} more`);
  return lines.join("\n");
}
