/**
 * Templated reports for SYNTHETIC studies: FINDINGS (heart, lungs, pleura, bones) and
 * IMPRESSION sections with several phrasings per statement and laterality/location words, that
 * mention exactly the drawn findings (everything else is either not mentioned or explicitly
 * negated). The wording is checked against `mentionedFindings` in the tests.
 *
 * @module
 */

import type { Rng } from "../util/rng.ts";
import { joinReport } from "./record.ts";
import type { Side, SyntheticFinding, Zone } from "./synthetic_study.ts";

type Pick = <T>(items: readonly T[]) => T;

/** Where a focal finding is, in one of several ways radiologists say it. */
function location(side: Side, zone: Zone, pick: Pick): string {
  if (side === "right" || zone !== "middle") {
    const lobe = `${side} ${zone} lobe`;
    const region = {
      upper: `${side} upper zone`,
      middle: `${side} mid lung`,
      lower: `${side} lung base`,
    };
    return pick([lobe, lobe, region[zone]]);
  }
  return pick(["lingula", "left mid lung", "left mid zone"]);
}

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

/** One positive FINDINGS sentence per finding. */
function findingSentence(f: SyntheticFinding, pick: Pick, mm: (n: number) => string): string {
  switch (f.kind) {
    case "cardiomegaly": {
      const adv = { mild: "mildly", moderate: "moderately", marked: "markedly" }[f.severity];
      return pick([
        `The heart is ${adv} enlarged.`,
        `${cap(f.severity)} cardiomegaly.`,
        `The cardiac silhouette is ${adv} enlarged.`,
        `There is ${f.severity} enlargement of the cardiac silhouette.`,
        `${cap(f.severity)} enlargement of the heart.`,
      ]);
    }
    case "pleural effusion": {
      if (f.side === "bilateral") {
        return pick([
          `${cap(f.size)} bilateral pleural effusions.`,
          `There are ${f.size} bilateral pleural effusions.`,
          `Bilateral pleural effusions, ${f.size}.`,
        ]);
      }
      const options = [
        `There is a ${f.size} ${f.side} pleural effusion.`,
        `${cap(f.size)} ${f.side} pleural effusion.`,
        `${cap(f.size)} ${f.side}-sided pleural effusion with a meniscus.`,
      ];
      if (f.size === "small") {
        options.push(
          `Blunting of the ${f.side} costophrenic angle, consistent with a small effusion.`,
        );
      }
      return pick(options);
    }
    case "consolidation": {
      const where = location(f.side, f.zone, pick);
      return pick([
        `There is patchy airspace opacity in the ${where}.`,
        `Focal consolidation is seen in the ${where}.`,
        `Patchy consolidation in the ${where}.`,
        `Airspace disease in the ${where}, concerning for pneumonia.`,
        `There is an area of consolidation within the ${where}.`,
      ]);
    }
    case "nodule": {
      const where = location(f.side, f.zone, pick);
      return pick([
        `There is a ${mm(f.sizeMm)} nodule in the ${where}.`,
        `A ${mm(f.sizeMm)} rounded opacity is noted in the ${where}.`,
        `Pulmonary nodule in the ${where}, measuring approximately ${mm(f.sizeMm)}.`,
        `A well-circumscribed nodule projects over the ${where}.`,
      ]);
    }
    case "pneumothorax":
      return pick([
        `There is a ${f.size} ${f.side} pneumothorax.`,
        `${cap(f.size)} ${f.side} apical pneumothorax.`,
        `A ${f.side} visceral pleural line is visible with absent lung markings peripherally, ` +
        `consistent with a ${f.size} pneumothorax.`,
        `${cap(f.size)} ${f.side}-sided pneumothorax.`,
      ]);
  }
}

/** A short IMPRESSION phrase per finding. */
function impressionPhrase(f: SyntheticFinding, pick: Pick): string {
  switch (f.kind) {
    case "cardiomegaly":
      return pick([
        "Cardiomegaly.",
        `${cap(f.severity)} cardiomegaly.`,
        "Enlarged cardiac silhouette.",
      ]);
    case "pleural effusion":
      return f.side === "bilateral"
        ? pick(["Bilateral pleural effusions.", `${cap(f.size)} bilateral effusions.`])
        : pick([`${cap(f.side)} pleural effusion.`, `${cap(f.size)} ${f.side} effusion.`]);
    case "consolidation": {
      const where = location(f.side, f.zone, pick);
      return pick([
        `${cap(where)} consolidation, possibly pneumonia.`,
        `${cap(where)} pneumonia.`,
        `Airspace disease in the ${where}.`,
      ]);
    }
    case "nodule":
      return pick([
        `${cap(f.side)} pulmonary nodule; CT recommended.`,
        `Pulmonary nodule in the ${location(f.side, f.zone, pick)}.`,
      ]);
    case "pneumothorax":
      return pick([`${cap(f.side)} pneumothorax.`, `${cap(f.size)} ${f.side} pneumothorax.`]);
  }
}

/**
 * A report (`FINDINGS: …\nIMPRESSION: …`) describing exactly `findings`.
 * @example
 * ```ts
 * import { Rng } from "../util/rng.ts";
 * writeSyntheticReport([{ kind: "pneumothorax", side: "left", size: "small" }], new Rng(1));
 * // e.g. "FINDINGS: Heart size is within normal limits. … Small left apical pneumothorax. …"
 * ```
 */
export function writeSyntheticReport(findings: readonly SyntheticFinding[], rng: Rng): string {
  const pick: Pick = (items) => items[rng.int(items.length)];
  const mm = (n: number) => pick([`${n} mm`, `${(n / 10).toFixed(1)} cm`]);
  const has = (kind: SyntheticFinding["kind"]) => findings.find((f) => f.kind === kind);
  const sentences: string[] = [];
  const heart = has("cardiomegaly");
  sentences.push(
    heart ? findingSentence(heart, pick, mm) : pick([
      "The heart size is normal.",
      "Heart size is within normal limits.",
      "The cardiomediastinal silhouette is within normal limits.",
      "Normal cardiac silhouette.",
      "The cardiac silhouette is normal in size and contour.",
    ]),
  );
  if (rng.uniform() < 0.5) {
    sentences.push(
      pick([
        "The mediastinal contours are normal.",
        "Mediastinal contours are unremarkable.",
        "The hila are unremarkable.",
      ]),
    );
  }
  const lungFindings = findings.filter((f) => f.kind === "consolidation" || f.kind === "nodule");
  if (lungFindings.length === 0) {
    sentences.push(pick([
      "The lungs are clear.",
      "Lungs are clear bilaterally.",
      "Both lungs are clear and well expanded.",
      "The lungs are well expanded and clear.",
      "No focal airspace consolidation.",
    ]));
  } else {
    for (const f of lungFindings) sentences.push(findingSentence(f, pick, mm));
    if (!has("consolidation") && rng.uniform() < 0.6) {
      sentences.push(pick(["No focal consolidation.", "The lungs are otherwise clear."]));
    }
  }
  const effusion = has("pleural effusion"), ptx = has("pneumothorax");
  if (effusion) sentences.push(findingSentence(effusion, pick, mm));
  if (ptx) sentences.push(findingSentence(ptx, pick, mm));
  if (!effusion && !ptx) {
    sentences.push(pick([
      "No pleural effusion or pneumothorax.",
      "There is no pleural effusion or pneumothorax.",
      "No pneumothorax or pleural effusion is seen.",
      "The costophrenic angles are sharp. No pneumothorax.",
    ]));
  } else if (!effusion) {
    sentences.push(pick(["No pleural effusion.", "No effusion is seen."]));
  } else if (!ptx) {
    sentences.push(pick(["No pneumothorax.", "There is no pneumothorax."]));
  }
  if (rng.uniform() < 0.6) {
    sentences.push(pick([
      "The osseous structures are intact.",
      "No acute osseous abnormality.",
      "Visualized bones are unremarkable.",
    ]));
  }
  const impression = findings.length === 0
    ? pick([
      "No acute cardiopulmonary abnormality.",
      "Normal chest radiograph.",
      "No acute cardiopulmonary process.",
      "No active disease.",
      "Clear lungs. No acute findings.",
    ])
    : findings.map((f) => impressionPhrase(f, pick)).join(" ");
  return joinReport(sentences.join(" "), impression);
}
