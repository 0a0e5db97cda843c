/**
 * The IU X-ray reports of `../shared/data/iu-xray-reports/dataset.csv` as the texts the text
 * encoder sees: `findings + " " + impression`. Parsed with csv-parse (the reports contain quotes,
 * commas and newlines).
 *
 * @module
 */

import { parse } from "csv-parse/sync";

/** One report row. */
export interface IuReport {
  /** `report_id`, e.g. "CXR1". */
  id: string;
  /** `findings + " " + impression`. */
  text: string;
}

/**
 * Reads the reports CSV, checking its header.
 * @example
 * ```ts
 * const reports = await readIuReports("../shared/data/iu-xray-reports/dataset.csv");
 * console.log(reports.length); // 3826
 * ```
 */
export async function readIuReports(path: string): Promise<IuReport[]> {
  const rows: Record<string, string>[] = parse(await Deno.readTextFile(path), {
    columns: true,
    skip_empty_lines: true,
  });
  for (const column of ["report_id", "findings", "impression"]) {
    if (rows.length > 0 && !(column in rows[0])) {
      throw new Error(`${path}: no "${column}" column; found ${Object.keys(rows[0]).join(", ")}`);
    }
  }
  return rows.map((r) => ({ id: r.report_id, text: r.findings + " " + r.impression }));
}
