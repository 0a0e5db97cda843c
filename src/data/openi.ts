/**
 * Open-i / IU X-ray in its original form: `ecgen-radiology/<n>.xml` reports (from
 * NLMCXR_reports.tgz) and the PNG directory (NLMCXR_png.tgz).
 *
 * One XML file is one study (IU X-ray has one study per patient, so the patient id is the study
 * id). What is read from each `<eCitation>`:
 * - `<uId id="CXR1"/>`: the study id;
 * - `<MeSH><major>…</major></MeSH>`: the label — every major term exactly `normal` means normal
 *   (0), major terms without `normal` mean abnormal (1) and are the record's findings; no major
 *   term, or `normal` mixed with other terms, is an unknown label;
 * - `<AbstractText Label="FINDINGS">` and `<AbstractText Label="IMPRESSION">`
 *   (inside MedlineCitation/Article/Abstract): the report;
 * - `<parentImage id="CXR1_1_IM-0001-3001">`: one image each, the file `<id>.png` in the image
 *   directory (the `<url>` inside names the original `.jpg`, not the distributed PNG).
 *
 * @module
 */

import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { isFile, lineIndex } from "./files.ts";
import { meshLabel } from "./labels.ts";
import {
  collapse,
  finishLoad,
  joinReport,
  type LoadOptions,
  type LoadResult,
  type Problem,
  type StudyRecord,
} from "./record.ts";

/** Where the Open-i files are. */
export interface OpenIOptions extends LoadOptions {
  /** The `ecgen-radiology` directory of `<n>.xml` reports. */
  reportsDir: string;
  /** The PNG directory, files named `<parentImage id>.png`. */
  imagesDir: string;
}

/** A parsed XML element: attributes as strings, children as arrays, text as `#text`. */
interface XmlNode {
  "#text"?: string | number;
  [key: string]: XmlNode[] | string | number | undefined;
}

const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  alwaysCreateTextNode: true,
  captureMetaData: true,
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

/**
 * Loads every `*.xml` of `reportsDir` (in numeric order of the file names) as a study record.
 * Bad reports (malformed XML, no uId, no image or a missing PNG, no FINDINGS and no IMPRESSION
 * text, unknown label, duplicate uId) are problems with their file and line.
 * @example
 * ```ts
 * const { records, problems } = await loadOpenI({
 *   reportsDir: "tests/fixtures/data/openi/ecgen-radiology", // from NLMCXR_reports.tgz
 *   imagesDir: "tests/fixtures/data/openi/png", // from NLMCXR_png.tgz
 * });
 * ```
 */
export async function loadOpenI(opts: OpenIOptions): Promise<LoadResult> {
  const names: string[] = [];
  for await (const e of Deno.readDir(opts.reportsDir)) {
    if (e.isFile && e.name.toLowerCase().endsWith(".xml")) names.push(e.name);
  }
  names.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const records: StudyRecord[] = [];
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const file = join(opts.reportsDir, name);
    const result = parseReport(file, await Deno.readTextFile(file), opts);
    if ("problem" in result) {
      problems.push(result.problem);
    } else if (seen.has(result.record.id)) {
      const reason = `duplicate uId ${result.record.id} (first in ${seen.get(result.record.id)})`;
      problems.push({ file, line: result.line, reason, kind: "duplicate" });
    } else {
      seen.set(result.record.id, file);
      records.push(result.record);
    }
  }
  return finishLoad("openi", records, problems, opts);
}

type Parsed = { record: StudyRecord; line: number } | { problem: Problem };

function parseReport(file: string, xml: string, opts: OpenIOptions): Parsed {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const reason = `malformed XML: ${valid.err.msg}`;
    return { problem: { file, line: valid.err.line, reason, kind: "malformed" } };
  }
  const lineOf = lineIndex(xml);
  const lineAt = (node: XmlNode | undefined) => {
    const meta = (node as Record<symbol, { startIndex?: number }> | undefined)?.[META];
    const start = meta?.startIndex;
    return start === undefined ? 1 : lineOf(start);
  };
  const root = children(parser.parse(xml), "eCitation")[0];
  if (!root) return { problem: { file, line: 1, reason: "no <eCitation>", kind: "malformed" } };
  const line = lineAt(root);
  const id = String(children(root, "uId")[0]?.id ?? "").trim();
  if (!id) return { problem: { file, line, reason: "no <uId id=…>", kind: "malformed" } };

  const abstract = descendants(root, "AbstractText");
  const section = (label: string) =>
    abstract.filter((n) => String(n.Label ?? "").toUpperCase() === label).map(text).join(" ");
  const report = joinReport(section("FINDINGS"), section("IMPRESSION"));
  if (!report) {
    const at = lineAt(descendants(root, "Abstract")[0] ?? root);
    const reason = `${id}: no FINDINGS or IMPRESSION text`;
    return { problem: { file, line: at, reason, kind: "empty-report" } };
  }

  const mesh = children(root, "MeSH")[0];
  const label = meshLabel(children(mesh, "major").map(text));
  if (typeof label === "string") {
    const reason = `${id}: ${label.replace("MeSH", "MeSH <major>")}`;
    return { problem: { file, line: lineAt(mesh ?? root), reason, kind: "unknown-label" } };
  }

  const images = children(root, "parentImage");
  if (images.length === 0) {
    const reason = `${id}: no <parentImage>`;
    return { problem: { file, line, reason, kind: "missing-image" } };
  }
  const imagePaths: string[] = [];
  for (const image of images) {
    const imageId = String(image.id ?? "").trim();
    const path = join(opts.imagesDir, `${imageId}.png`);
    if (!imageId || (opts.checkImages !== false && !isFile(path))) {
      const reason = imageId ? `${id}: image file ${path} not found` : `${id}: <parentImage> no id`;
      return { problem: { file, line: lineAt(image), reason, kind: "missing-image" } };
    }
    imagePaths.push(path);
  }
  const record: StudyRecord = {
    id,
    patientId: id,
    split: null,
    imagePaths,
    report,
    label: label.label,
    findings: label.findings,
    meta: { source: "openi" },
  };
  return { record, line };
}

function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const value = node?.[name];
  return Array.isArray(value) ? value : [];
}

function descendants(node: XmlNode, name: string): XmlNode[] {
  const out: XmlNode[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (!Array.isArray(value)) continue;
    if (key === name) out.push(...value);
    for (const child of value) out.push(...descendants(child, name));
  }
  return out;
}

function text(node: XmlNode): string {
  return collapse(String(node["#text"] ?? ""));
}
