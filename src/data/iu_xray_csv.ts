/**
 * The IU X-ray report CSV (`report_id, image_path, findings, impression, mesh_labels`), as in
 * `../shared/data/iu-xray-reports/dataset.csv`: one row per study, one image path per row
 * (relative to the dataset root, e.g. `data/images/CXR1_1_IM-0001-3001.png`), `mesh_labels` the
 * MeSH major terms joined by `|`, exactly `normal` marking a normal study. The patient id is the
 * report id (IU X-ray has one study per patient).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { isFile, readCsv } from "./files.ts";
import { meshLabel } from "./labels.ts";
import {
  finishLoad,
  joinReport,
  type LoadOptions,
  type LoadResult,
  type Problem,
  type StudyRecord,
} from "./record.ts";

/** Where the CSV and its images are. */
export interface IuXrayCsvOptions extends LoadOptions {
  /** The CSV file. */
  path: string;
  /** Directory the `image_path` values are relative to; default the CSV's directory. */
  imageRoot?: string;
}

const COLUMNS = ["report_id", "image_path", "findings", "impression", "mesh_labels"];

/**
 * Loads the IU X-ray report CSV. Bad rows (wrong field count, empty id, missing image, empty
 * findings and impression, empty or mixed `mesh_labels`, duplicate id) are problems with their
 * line.
 * @example
 * ```ts
 * // Image paths are relative to the CSV's folder (or imageRoot).
 * const { records } = await loadIuXrayCsv({ path: "tests/fixtures/data/iu_xray_csv/dataset.csv" });
 * ```
 */
export async function loadIuXrayCsv(opts: IuXrayCsvOptions): Promise<LoadResult> {
  const file = opts.path;
  const table = await readCsv(file, COLUMNS);
  const root = opts.imageRoot ?? dirname(file);
  const problems: Problem[] = [...table.problems];
  const records: StudyRecord[] = [];
  const seen = new Map<string, number>();
  for (const { line, values: v } of table.rows) {
    const bad = (kind: Problem["kind"], reason: string) =>
      problems.push({ file, line, reason, kind });
    const id = v.report_id.trim();
    if (!id) {
      bad("malformed", "empty report_id");
      continue;
    }
    if (seen.has(id)) {
      bad("duplicate", `${id}: duplicate report_id (first on line ${seen.get(id)})`);
      continue;
    }
    seen.set(id, line);
    const report = joinReport(v.findings, v.impression);
    if (!report) {
      bad("empty-report", `${id}: empty findings and impression`);
      continue;
    }
    const label = meshLabel(v.mesh_labels);
    if (typeof label === "string") {
      bad("unknown-label", `${id}: ${label}`);
      continue;
    }
    const imagePath = v.image_path.trim() ? join(root, v.image_path.trim()) : "";
    if (!imagePath || (opts.checkImages !== false && !isFile(imagePath))) {
      bad("missing-image", `${id}: ${imagePath ? `image file ${imagePath} not found` : "empty"}`);
      continue;
    }
    records.push({
      id,
      patientId: id,
      split: null,
      imagePaths: [imagePath],
      report,
      label: label.label,
      findings: label.findings,
      meta: { source: "iu-xray-csv" },
    });
  }
  return finishLoad("iu-xray-csv", records, problems, opts);
}
