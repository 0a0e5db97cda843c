/**
 * Normal/abnormal labels: from MeSH terms (Open-i, IU X-ray CSV), as a lookup table for adapters
 * whose files carry none (R2Gen), and — only when asked — derived from the report text by a
 * small negation-aware keyword rule.
 *
 * @module
 */

import type { Label } from "./record.ts";

/**
 * The label of a `|`-joined list of MeSH major terms: exactly `normal` is normal (0, no
 * findings); terms without `normal` are abnormal (1) and are the findings. Returns the reason
 * as a string when there is no label (no term, or `normal` mixed with other terms).
 * @example
 * ```ts
 * meshLabel("normal"); // { label: 0, findings: [] }
 * meshLabel("Cardiomegaly/mild|Kyphosis"); // { label: 1, findings: ["Cardiomegaly/mild", "Kyphosis"] }
 * ```
 */
export function meshLabel(
  meshLabels: string | readonly string[],
): { label: Label; findings: string[] } | string {
  const terms = (typeof meshLabels === "string" ? meshLabels.split("|") : [...meshLabels])
    .map((t) => t.trim()).filter(Boolean);
  const normal = terms.filter((t) => t === "normal").length;
  if (terms.length === 0) return "no MeSH term, so no normal/abnormal label";
  if (normal === terms.length) return { label: 0, findings: [] };
  if (normal > 0) return `MeSH terms mix "normal" with ${JSON.stringify(terms)}`;
  return { label: 1, findings: terms };
}

/** A label and its findings, as looked up by adapters whose files carry no label. */
export interface LabelInfo {
  /** 0 normal, 1 abnormal. */
  label: Label;
  /** Positive finding tags. */
  findings: string[];
}

/**
 * A label table keyed by record id, e.g. from `loadOpenI` or `loadIuXrayCsv` (with
 * `checkImages: false` when only the labels are wanted), for `loadR2Gen({ labels })`.
 * @example
 * ```ts
 * const labels = labelTable([{ id: "CXR1", label: 0, findings: [] }]);
 * labels.get("CXR1"); // { label: 0, findings: [] }
 * ```
 */
export function labelTable(
  records: Iterable<{ id: string; label: Label; findings: string[] }>,
): Map<string, LabelInfo> {
  const table = new Map<string, LabelInfo>();
  for (const r of records) table.set(r.id, { label: r.label, findings: [...r.findings] });
  return table;
}

/**
 * The findings the text rule knows, each with the phrases that mention it. The order is the
 * order {@link mentionedFindings} reports them in.
 */
export const TEXT_FINDINGS: readonly { name: string; pattern: RegExp }[] = [
  {
    name: "cardiomegaly",
    pattern: new RegExp(
      String.raw`cardiomegaly|enlarged (?:heart|cardiac silhouette|cardiac shadow)|` +
        String.raw`(?:heart|cardiac silhouette|cardiac shadow|cardiac size|heart size)` +
        String.raw`(?: size)? (?:is |appears |remains )?(?:\w+ )?(?:enlarged|increased)|` +
        String.raw`enlargement of the (?:heart|cardiac silhouette)`,
    ),
  },
  {
    name: "pleural effusion",
    pattern: new RegExp(
      String.raw`effusions?\b|pleural fluid|fluid layering|meniscus|` +
        String
          .raw`blunting of the (?:\w+ )*?costophrenic|costophrenic (?:angle|sulcus|recess)e?s? ` +
        String.raw`(?:is |are )?(?:\w+ )?(?:blunted|obliterated)`,
    ),
  },
  {
    name: "consolidation",
    pattern: /consolidat|air ?space (?:disease|opacit)|infiltrat|pneumonia/,
  },
  { name: "nodule", pattern: /nodul|\bmass(?:es)?\b|rounded (?:\w+ )?opacit/ },
  { name: "pneumothorax", pattern: /pneumothora/ },
  { name: "edema", pattern: /edema|(?:vascular|pulmonary) congestion/ },
  { name: "atelectasis", pattern: /atelecta/ },
  {
    name: "opacity",
    pattern: /(?<!air ?space |rounded |nodular |(?:\w+ )?rounded )opacit|density|densities/,
  },
  { name: "granuloma", pattern: /granulom/ },
  { name: "scarring", pattern: /scar|fibros|fibrotic/ },
  { name: "emphysema", pattern: /emphysema|hyperinfla|hyperexpan|copd/ },
  { name: "fracture", pattern: /fracture/ },
  { name: "hernia", pattern: /hernia/ },
  { name: "degenerative change", pattern: /degenerat|spondylo|osteophyt|arthriti|osteopeni/ },
  { name: "spinal curvature", pattern: /scoliosis|kyphosis|kyphotic|dextroconvex|levoconvex/ },
  {
    name: "low lung volumes",
    pattern: /hypoinflat|(?:low|decreased|reduced) lung volumes|lung volumes are (?:low|decreased)/,
  },
  {
    name: "aortic change",
    pattern: /(?:tortuous|ectatic|unfolded|calcified|atherosclerotic) aort/,
  },
  {
    name: "device or surgery",
    pattern: new RegExp(
      String.raw`sternotomy|surgical|\bclips?\b|pacemaker|pacer|defibrillator|catheter|\btube\b|` +
        String
          .raw`\bport\b|\bstents?\b|prosthe|hardware|mastectomy|cabg|postoperative|status post|` +
        String.raw`fixation|wires?\b|picc|central (?:venous )?line`,
    ),
  },
  { name: "calcification", pattern: /calcifi|calcinosis/ },
  { name: "deformity", pattern: /deformit|lucenc/ },
  { name: "pleural thickening", pattern: /pleural thickening|thickening of the pleura/ },
  {
    name: "diaphragm elevation",
    pattern:
      /(?:elevat\w+|raised) (?:\w+ )?(?:hemi)?diaphragm|(?:hemi)?diaphragm (?:is |remains )?(?:\w+ )?elevated/,
  },
  {
    name: "mediastinal change",
    pattern:
      /(?:widen\w*|promin\w*|enlarg\w*) (?:of the )?(?:\w+ )?(?:mediastin|hil)|lymphadenopath|(?:mediastin\w*|hil\w*) (?:contours? )?(?:is |are )?(?:\w+ )?(?:widened|prominent|enlarged)/,
  },
  { name: "hyperlucency", pattern: /hyperlucen|bullae|bulla\b|cyst/ },
];

const GLOBAL_FINDINGS = TEXT_FINDINGS.map(({ name, pattern }) => ({
  name,
  global: new RegExp(pattern.source, "g"),
}));

/** Phrases that look like negations but are not (NegEx's pseudo-triggers). */
const PSEUDO_NEGATION =
  /\b(?:no (?:\w+ )?(?:change|increase|decrease)|not (?:\w+ )?changed|not only)\b/g;

const PRE_NEGATION =
  /\b(?:no|not|without|negative for|free of|clear of|absence of|resolution of|rule out|resolved)\b/;
const POST_NEGATION =
  /\b(?:not (?:be )?(?:seen|identified|present|appreciated|visualized|evident|demonstrated)|resolved|absent|excluded|ruled out)\b/;

/**
 * The findings a report mentions positively, by a small negation-aware keyword rule: the report
 * is cut into clauses (at `.`, `;`, newlines, `but`, `however`, `although`); a phrase of
 * {@link TEXT_FINDINGS} counts unless a negation cue (`no`, `not`, `without`, `negative for`,
 * `free of`, …) stands before its end in the same clause, or a post-negation (`not seen`,
 * `resolved`, `absent`, …) follows it there. Uncertain mentions (`possible`, `may represent`)
 * count as positive. Returns the names in {@link TEXT_FINDINGS} order, each once.
 * @example
 * ```ts
 * mentionedFindings("Small left effusion. No pneumothorax."); // ["pleural effusion"]
 * ```
 */
export function mentionedFindings(report: string): string[] {
  const found = new Set<string>();
  const clauses = report.toLowerCase().replace(PSEUDO_NEGATION, "unchanged").split(
    /[.;:\n]|\bbut\b|\bhowever\b|\balthough\b/,
  );
  for (const clause of clauses) {
    for (const { name, global } of GLOBAL_FINDINGS) {
      for (const m of clause.matchAll(global)) {
        const end = m.index + m[0].length;
        if (PRE_NEGATION.test(clause.slice(0, end)) || POST_NEGATION.test(clause.slice(end))) {
          continue;
        }
        found.add(name);
      }
    }
  }
  return TEXT_FINDINGS.map((f) => f.name).filter((n) => found.has(n));
}

/**
 * Normal (0) when {@link mentionedFindings} finds nothing, else abnormal (1). A heuristic: used
 * only where a dataset has no label and the caller asks for it explicitly (see `loadR2Gen`'s
 * `labelFromText`); its agreement with the IU X-ray MeSH labels is measured in the tests.
 * @example
 * ```ts
 * labelFromReportText("Heart size normal. Lungs are clear."); // 0
 * ```
 */
export function labelFromReportText(report: string): Label {
  return mentionedFindings(report).length > 0 ? 1 : 0;
}
