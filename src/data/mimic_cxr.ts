/**
 * MIMIC-CXR-JPG 2.0.0 (with the free-text reports of MIMIC-CXR):
 * - `mimic-cxr-2.0.0-metadata.csv[.gz]`: `dicom_id, subject_id, study_id,
 *   PerformedProcedureStepDescription, ViewPosition, Rows, Columns, StudyDate, StudyTime, …`,
 *   one row per image;
 * - `mimic-cxr-2.0.0-split.csv[.gz]`: `dicom_id, study_id, subject_id, split` with split
 *   `train` / `validate` / `test` (optional: without it the split is null);
 * - `mimic-cxr-2.0.0-chexpert.csv[.gz]` (or `-negbio`): `subject_id, study_id` and 14 labels
 *   (`Atelectasis … No Finding … Support Devices`), each 1.0, 0.0, -1.0 (uncertain) or blank;
 * - images `files/p10/p10000032/s50414267/<dicom_id>.jpg`, reports
 *   `files/p10/p10000032/s50414267.txt` with `FINDINGS:` and `IMPRESSION:` sections.
 *
 * One record per study (`s<study_id>`, patient `p<subject_id>`), with the study's frontal images
 * (ViewPosition PA or AP) by default. Label: normal iff `No Finding` is 1.0; abnormal when any
 * other label except `Support Devices` is 1.0 or -1.0; otherwise (all blank or 0) the label is
 * unknown. Findings: the labels at 1.0, and those at -1.0 as `<name> (uncertain)`.
 *
 * @module
 */

import { join } from "node:path";
import { type CsvRow, firstExisting, isFile, readCsv, readText } from "./files.ts";
import type { LabelInfo } from "./labels.ts";
import {
  collapse,
  finishLoad,
  joinReport,
  type LoadOptions,
  type LoadResult,
  normalizeSplit,
  type Problem,
  type Split,
  type StudyRecord,
} from "./record.ts";

/** Where MIMIC-CXR-JPG is and what to take from it. */
export interface MimicCxrOptions extends LoadOptions {
  /** MIMIC-CXR-JPG root: the `mimic-cxr-2.0.0-*.csv[.gz]` files and `files/`. */
  root: string;
  /** Root holding the reports' `files/p../p../s….txt`; default `root`. */
  reportsRoot?: string;
  /** ViewPosition values to keep; default `["PA", "AP"]`; `"all"` keeps every image. */
  views?: readonly string[] | "all";
  /** Label file: `chexpert` (default) or `negbio`; both have the same columns. */
  labeler?: "chexpert" | "negbio";
}

/** The 14 CheXpert label columns, in file order. */
export const CHEXPERT_LABELS: readonly string[] = [
  "Atelectasis",
  "Cardiomegaly",
  "Consolidation",
  "Edema",
  "Enlarged Cardiomediastinum",
  "Fracture",
  "Lung Lesion",
  "Lung Opacity",
  "No Finding",
  "Pleural Effusion",
  "Pleural Other",
  "Pneumonia",
  "Pneumothorax",
  "Support Devices",
];

/**
 * The label of one CheXpert/NegBio row (see the module doc), or the reason there is none.
 * @example
 * ```ts
 * chexpertLabel({ "No Finding": "1.0" }); // { label: 0, findings: [] }
 * chexpertLabel({ "Edema": "-1.0" }); // { label: 1, findings: ["Edema (uncertain)"] }
 * ```
 */
export function chexpertLabel(values: Readonly<Record<string, string>>): LabelInfo | string {
  const findings: string[] = [];
  let abnormal = false;
  for (const name of CHEXPERT_LABELS) {
    const raw = (values[name] ?? "").trim();
    const v = raw === "" ? NaN : Number(raw);
    if (raw !== "" && ![1, 0, -1].includes(v)) return `${name} is ${JSON.stringify(raw)}`;
    if (name === "No Finding" || (v !== 1 && v !== -1)) continue;
    findings.push(v === 1 ? name : `${name} (uncertain)`);
    if (name !== "Support Devices") abnormal = true;
  }
  if (Number((values["No Finding"] ?? "").trim() || NaN) === 1) return { label: 0, findings };
  if (abnormal) return { label: 1, findings };
  return "no finding positive or uncertain and No Finding not 1.0";
}

/**
 * Labels by study (`s<study_id>`) from a CheXpert/NegBio label file, for `loadR2Gen` on the
 * MIMIC annotation; rows without a label are problems.
 * @example
 * ```ts
 * const path = "tests/fixtures/data/mimic_cxr/mimic-cxr-2.0.0-chexpert.csv"; // or the .csv.gz
 * const { labels } = await readMimicLabels(path);
 * labels.get("s53189527"); // { label: 1, findings: [...] }
 * ```
 */
export async function readMimicLabels(
  path: string,
): Promise<{ labels: Map<string, LabelInfo>; problems: Problem[] }> {
  const table = await readCsv(path, ["subject_id", "study_id", ...CHEXPERT_LABELS]);
  const labels = new Map<string, LabelInfo>();
  const problems = [...table.problems];
  for (const { line, values } of table.rows) {
    const label = chexpertLabel(values);
    const study = `s${values.study_id.trim()}`;
    if (typeof label === "string") {
      problems.push({ file: path, line, reason: `${study}: ${label}`, kind: "unknown-label" });
    } else labels.set(study, label);
  }
  return { labels, problems };
}

/**
 * The FINDINGS and IMPRESSION sections of a MIMIC-CXR report (`FINDINGS AND IMPRESSION:`
 * counts as findings, `CONCLUSION:` as impression), whitespace collapsed; a section ends at
 * the next upper-case `HEADER:` at the start of a line.
 * @example
 * ```ts
 * parseMimicReport(" FINDINGS:\n Clear lungs.\n IMPRESSION:\n Normal.");
 * // { findings: "Clear lungs.", impression: "Normal." }
 * ```
 */
export function parseMimicReport(text: string): { findings: string; impression: string } {
  const headers = [...text.matchAll(/^[ \t]*([A-Z][A-Z ,&/()-]*[A-Z)]):/gm)];
  const out = { findings: [] as string[], impression: [] as string[] };
  headers.forEach((h, i) => {
    const name = h[1].replace(/\s+/g, " ");
    const body = text.slice(h.index + h[0].length, headers[i + 1]?.index ?? text.length);
    if (name.startsWith("FINDING")) out.findings.push(body);
    else if (/^(IMPRESSIONS?|CONCLUSIONS?)$/.test(name)) out.impression.push(body);
  });
  return {
    findings: collapse(out.findings.join(" ")),
    impression: collapse(out.impression.join(" ")),
  };
}

interface Study {
  subject: string;
  line: number;
  dicoms: string[];
  views: string[];
  splits: Set<string>;
}

/**
 * Loads MIMIC-CXR-JPG studies as records (see the module doc). Bad studies (malformed rows, a
 * subject that changes within a study, images in different splits, no label row or no label,
 * a missing or section-less report, a missing JPG) are problems at the line of the study's
 * first image in the metadata file. Studies with no image of the wanted views are left out and
 * counted in the log, not reported as problems.
 * @example
 * ```ts
 * // The layout of MIMIC-CXR-JPG 2.0.0 (reports beside the images here), in miniature.
 * const { records } = await loadMimicCxr({ root: "tests/fixtures/data/mimic_cxr" });
 * ```
 */
export async function loadMimicCxr(opts: MimicCxrOptions): Promise<LoadResult> {
  const { root } = opts;
  const views = opts.views ?? ["PA", "AP"];
  const csv = (name: string) =>
    firstExisting([
      join(root, `mimic-cxr-2.0.0-${name}.csv`),
      join(root, `mimic-cxr-2.0.0-${name}.csv.gz`),
    ]);
  const metaFile = csv("metadata");
  const labelFile = csv(opts.labeler ?? "chexpert");
  if (!metaFile || !labelFile) {
    throw new Error(
      `${root}: expected mimic-cxr-2.0.0-metadata.csv[.gz] and ` +
        `mimic-cxr-2.0.0-${opts.labeler ?? "chexpert"}.csv[.gz]`,
    );
  }
  const splitFile = csv("split");
  const meta = await readCsv(metaFile, ["dicom_id", "subject_id", "study_id", "ViewPosition"]);
  const splitOf = new Map<string, string>();
  if (splitFile) {
    const table = await readCsv(splitFile, ["dicom_id", "study_id", "subject_id", "split"]);
    for (const { values } of table.rows) splitOf.set(values.dicom_id.trim(), values.split);
  }
  const labelRows = new Map<string, CsvRow>();
  for (
    const row of (await readCsv(labelFile, ["subject_id", "study_id", ...CHEXPERT_LABELS])).rows
  ) {
    labelRows.set(row.values.study_id.trim(), row);
  }

  const problems: Problem[] = [...meta.problems];
  const studies = new Map<string, Study>();
  const broken = new Set<string>();
  for (const { line, values: v } of meta.rows) {
    const study = v.study_id.trim(), subject = v.subject_id.trim(), dicom = v.dicom_id.trim();
    const bad = (reason: string) =>
      problems.push({ file: metaFile, line, reason, kind: "malformed" });
    if (!/^\d+$/.test(study) || !/^\d+$/.test(subject) || !dicom) {
      bad(
        `bad ids: dicom_id ${JSON.stringify(dicom)}, subject_id ${JSON.stringify(subject)}, ` +
          `study_id ${JSON.stringify(study)}`,
      );
      continue;
    }
    const s = studies.get(study) ??
      { subject, line, dicoms: [], views: [], splits: new Set<string>() };
    studies.set(study, s);
    if (s.subject !== subject) {
      bad(`s${study}: subject_id ${subject} here but ${s.subject} on line ${s.line}`);
      broken.add(study);
      continue;
    }
    const view = v.ViewPosition.trim();
    if (views !== "all" && !views.includes(view)) continue;
    s.dicoms.push(dicom);
    s.views.push(view);
    if (splitOf.has(dicom)) s.splits.add(splitOf.get(dicom)!);
  }

  const records: StudyRecord[] = [];
  let noView = 0;
  for (const [study, s] of studies) {
    if (broken.has(study)) continue;
    if (s.dicoms.length === 0) {
      noView++;
      continue;
    }
    const id = `s${study}`;
    const bad = (kind: Problem["kind"], reason: string) =>
      problems.push({ file: metaFile, line: s.line, reason: `${id}: ${reason}`, kind });
    const split = studySplit(s.splits);
    if (typeof split === "string" && !["train", "validation", "test"].includes(split)) {
      bad("split-conflict", split);
      continue;
    }
    const labelRow = labelRows.get(study);
    const label = labelRow ? chexpertLabel(labelRow.values) : `no row in ${labelFile}`;
    if (typeof label === "string") {
      bad("unknown-label", labelRow ? `${labelFile}:${labelRow.line}: ${label}` : label);
      continue;
    }
    const dir = join("files", `p${s.subject.slice(0, 2)}`, `p${s.subject}`);
    const reportPath = join(opts.reportsRoot ?? root, dir, `${id}.txt`);
    if (!isFile(reportPath)) {
      bad("empty-report", `report file ${reportPath} not found`);
      continue;
    }
    const sections = parseMimicReport(await readText(reportPath));
    const report = joinReport(sections.findings, sections.impression);
    if (!report) {
      bad("empty-report", `${reportPath} has no FINDINGS: or IMPRESSION: section`);
      continue;
    }
    const imagePaths = s.dicoms.map((d) => join(root, dir, id, `${d}.jpg`));
    const missing = opts.checkImages === false ? undefined : imagePaths.find((p) => !isFile(p));
    if (missing) {
      bad("missing-image", `image file ${missing} not found`);
      continue;
    }
    records.push({
      id,
      patientId: `p${s.subject}`,
      split: split as Split | null,
      imagePaths,
      report,
      label: label.label,
      findings: label.findings,
      meta: { source: "mimic-cxr", views: s.views },
    });
  }
  if (noView > 0) {
    const wanted = views === "all" ? "any" : views.join("/");
    (opts.log ?? console.warn)(`mimic-cxr: left out ${noView} studies with no ${wanted} image`);
  }
  return finishLoad("mimic-cxr", records, problems, opts);
}

/** The study's split, or a message when its images disagree or a value is unknown. */
function studySplit(splits: Set<string>): Split | null | string {
  const mapped = [...splits].map((s) => normalizeSplit(s));
  if (mapped.some((m) => m === undefined)) return `unknown split ${JSON.stringify([...splits])}`;
  const distinct = [...new Set(mapped)];
  if (distinct.length > 1) return `images in different splits ${JSON.stringify([...splits])}`;
  return distinct[0] ?? null;
}
