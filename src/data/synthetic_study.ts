/**
 * What a SYNTHETIC chest radiograph shows: the patient's anatomy (jittered geometry) and the
 * findings drawn into it, sampled from a seeded generator. `synthetic_render.ts` draws it,
 * `synthetic_report.ts` describes it.
 *
 * Coordinates are fractions of the image side: `x` to the right of the image, `y` down. The image
 * is a PA view, so the patient's right is the image's left.
 *
 * @module
 */

import type { Rng } from "../util/rng.ts";

/** The patient's side. */
export type Side = "right" | "left";

/** Lung zone of a focal finding (`middle` is the right middle lobe or the left mid zone). */
export type Zone = "upper" | "middle" | "lower";

/** A finding the generator can draw, with what the report needs to describe it. */
export type SyntheticFinding =
  | { kind: "cardiomegaly"; severity: "mild" | "moderate" | "marked" }
  | { kind: "pleural effusion"; side: Side | "bilateral"; size: "small" | "moderate" | "large" }
  | { kind: "consolidation"; side: Side; zone: Zone }
  | { kind: "nodule"; side: Side; zone: Zone; sizeMm: number }
  | { kind: "pneumothorax"; side: Side; size: "small" | "moderate" | "large" };

/** The finding kinds, in the order records list them (the order of `TEXT_FINDINGS`). */
export const FINDING_KINDS: readonly SyntheticFinding["kind"][] = [
  "cardiomegaly",
  "pleural effusion",
  "consolidation",
  "nodule",
  "pneumothorax",
];

/** Geometry of one patient's chest, fractions of the image side. */
export interface Anatomy {
  /** Midline x. */
  cx: number;
  /** Distance from the midline to each lung's lateral wall. */
  halfWidth: number;
  /** y of the lung apices. */
  apex: number;
  /** y of the top of the right and left hemidiaphragm domes. */
  diaphragm: [number, number];
  /** Heart ellipse: centre, semi-axes, tilt (radians). */
  heart: { x: number; y: number; rx: number; ry: number; tilt: number };
  /** Half-width of the upper mediastinum. */
  mediastinum: number;
  /** y of the first posterior rib at the spine, and the spacing of the next ones. */
  ribs: { first: number; spacing: number };
  /** Soft-tissue thickness of the body (brightness of the unaired chest). */
  tissue: number;
  /** How much air darkens the lungs. */
  air: number;
  /** Gamma of the tone curve (exposure). */
  gamma: number;
  /** Standard deviation of the pixel noise. */
  noise: number;
}

/** Everything the renderer and the report writer need for one image. */
export interface SyntheticStudy {
  /** The patient's anatomy (the same for all studies of a patient). */
  anatomy: Anatomy;
  /** Drawn findings, in {@link FINDING_KINDS} order; empty for a normal study. */
  findings: SyntheticFinding[];
  /** Seeds the vessel tree and texture offsets of this image. */
  textureSeed: number;
}

/**
 * A patient's anatomy: normal values with small seeded jitter.
 * @example
 * ```ts
 * import { Rng } from "../util/rng.ts";
 * const anatomy = sampleAnatomy(new Rng(1));
 * ```
 */
export function sampleAnatomy(rng: Rng): Anatomy {
  const j = (sd: number) => rng.normal() * sd;
  const cx = 0.5 + j(0.01);
  const halfWidth = 0.35 + j(0.012);
  const right = 0.64 + j(0.015);
  return {
    cx,
    halfWidth,
    apex: 0.13 + j(0.01),
    diaphragm: [right, right + 0.025 + j(0.008)],
    heart: {
      x: cx + 0.05 + j(0.008),
      y: right - 0.035 + j(0.01),
      rx: halfWidth * (0.45 + j(0.02)),
      ry: 0.105 + j(0.006),
      tilt: 0.38 + j(0.05),
    },
    mediastinum: 0.045 + j(0.004),
    ribs: { first: 0.15 + j(0.006), spacing: 0.058 + j(0.003) },
    tissue: 0.5 + j(0.02),
    air: 0.31 + j(0.015),
    gamma: 1.1 + j(0.08),
    noise: 0.012 + Math.abs(j(0.004)),
  };
}

/**
 * A study of a patient: normal with probability `normalRate`, else one to three distinct
 * findings with random side, zone and size (an effusion and a pneumothorax never on the same
 * side).
 * @example
 * ```ts
 * import { Rng } from "../util/rng.ts";
 * const study = sampleStudy(new Rng(2), sampleAnatomy(new Rng(1)));
 * ```
 */
export function sampleStudy(rng: Rng, anatomy: Anatomy, normalRate = 0.45): SyntheticStudy {
  const pick = <T>(items: readonly T[]): T => items[rng.int(items.length)];
  const findings: SyntheticFinding[] = [];
  if (rng.uniform() >= normalRate) {
    const u = rng.uniform();
    const count = u < 0.7 ? 1 : u < 0.95 ? 2 : 3;
    const kinds = [...FINDING_KINDS];
    rng.shuffle(kinds);
    for (const kind of kinds.slice(0, count)) findings.push(sampleFinding(kind, rng, pick));
    const effusion = findings.find((f) => f.kind === "pleural effusion");
    const ptx = findings.find((f) => f.kind === "pneumothorax");
    if (effusion && ptx && (effusion.side === ptx.side || effusion.side === "bilateral")) {
      effusion.side = ptx.side === "right" ? "left" : "right";
    }
    findings.sort((a, b) => FINDING_KINDS.indexOf(a.kind) - FINDING_KINDS.indexOf(b.kind));
  }
  return { anatomy, findings, textureSeed: rng.nextU32() };
}

function sampleFinding(
  kind: SyntheticFinding["kind"],
  rng: Rng,
  pick: <T>(items: readonly T[]) => T,
): SyntheticFinding {
  const side = pick<Side>(["right", "left"]);
  const size = pick(["small", "moderate", "large"] as const);
  switch (kind) {
    case "cardiomegaly":
      return { kind, severity: pick(["mild", "moderate", "marked"] as const) };
    case "pleural effusion":
      return { kind, side: rng.uniform() < 0.2 ? "bilateral" : side, size };
    case "consolidation":
      return { kind, side, zone: pick<Zone>(["upper", "middle", "lower"]) };
    case "nodule":
      return {
        kind,
        side,
        zone: pick<Zone>(["upper", "middle", "lower"]),
        sizeMm: 8 + rng.int(18),
      };
    case "pneumothorax":
      return { kind, side, size };
  }
}
