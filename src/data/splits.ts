/**
 * Patient-level train/validation/test splits for datasets that have none: seeded, deterministic,
 * stratified by label, no patient in two splits.
 *
 * @module
 */

import { Rng } from "../util/rng.ts";
import {
  finishLoad,
  type LoadOptions,
  type LoadResult,
  type Problem,
  type Split,
  SPLITS,
  type StudyRecord,
} from "./record.ts";

/** Split fractions (normalized by their sum). */
export interface SplitFractions {
  /** Share of patients in train. */
  train: number;
  /** Share in validation. */
  validation: number;
  /** Share in test. */
  test: number;
}

/** How to split. */
export interface SplitOptions extends Pick<LoadOptions, "strict" | "log"> {
  /** Seed of the shuffle (`src/util/rng.ts`). */
  seed: number;
  /** Default 0.8 / 0.1 / 0.1. */
  fractions?: SplitFractions;
  /** Reassign every patient, ignoring existing splits; default false (fill the gaps only). */
  overwrite?: boolean;
  /** Split normal and abnormal patients separately so each split keeps the class ratio;
   * default true. A patient is abnormal when any of its studies is. */
  stratify?: boolean;
}

/** 0.8 / 0.1 / 0.1. */
export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.8, validation: 0.1, test: 0.1 };

/**
 * Gives every patient whose records have no split one split for all its records: patients are
 * sorted by id, shuffled with `Rng(seed)` (per label stratum), and cut by the fractions with
 * largest-remainder rounding, so the result depends only on the seed, the fractions and the
 * set of patients — not on record order. A patient that already has a split (and
 * `overwrite` is false) keeps it for all its records; a patient already in two splits is a
 * `split-conflict` problem and its records are left out. Returns new records, in input order.
 * @example
 * ```ts
 * import type { StudyRecord } from "./record.ts";
 * const records: StudyRecord[] = ["p1", "p1", "p2", "p3"].map((patientId, i) => ({
 *   id: `s${i}`, patientId, split: null, imagePaths: [`s${i}.png`], report: "x", label: 0,
 *   findings: [],
 * }));
 * const { records: split } = assignPatientSplits(records, { seed: 1 });
 * split.map((r) => r.split); // both studies of p1 share a split
 * ```
 */
export function assignPatientSplits(
  records: readonly StudyRecord[],
  opts: SplitOptions,
): LoadResult {
  const fractions = checkFractions(opts.fractions ?? DEFAULT_FRACTIONS);
  const byPatient = new Map<string, StudyRecord[]>();
  for (const r of records) {
    const list = byPatient.get(r.patientId) ?? [];
    list.push(r);
    byPatient.set(r.patientId, list);
  }
  const splitOf = new Map<string, Split>();
  const conflicted = new Set<string>();
  const problems: Problem[] = [];
  const strata: [string[], string[]] = [[], []];
  for (const [patient, list] of byPatient) {
    const existing = opts.overwrite
      ? []
      : [...new Set(list.map((r) => r.split).filter((s): s is Split => s !== null))];
    if (existing.length > 1) {
      conflicted.add(patient);
      const reason = `patient ${patient} is already in ${existing.join(" and ")} ` +
        `(${list.map((r) => r.id).join(", ")})`;
      problems.push({ file: "", line: 0, reason, kind: "split-conflict" });
    } else if (existing.length === 1) {
      splitOf.set(patient, existing[0]);
    } else {
      const abnormal = opts.stratify !== false && list.some((r) => r.label === 1);
      strata[abnormal ? 1 : 0].push(patient);
    }
  }
  strata.forEach((patients, i) => {
    patients.sort();
    const rng = new Rng((opts.seed ^ (i * 0x9e3779b9)) >>> 0);
    rng.shuffle(patients);
    const counts = quotas(patients.length, fractions);
    let k = 0;
    SPLITS.forEach((split, s) => {
      for (let j = 0; j < counts[s]; j++) splitOf.set(patients[k++], split);
    });
  });
  const out = records.filter((r) => !conflicted.has(r.patientId))
    .map((r) => ({ ...r, split: splitOf.get(r.patientId)! }));
  return finishLoad("splits", out, problems, opts);
}

/**
 * Split sizes for `n` patients: floors of `n · fraction`, the leftover patients going to the
 * largest remainders (ties to the earlier split).
 * @example
 * ```ts
 * quotas(10, { train: 0.8, validation: 0.1, test: 0.1 }); // [8, 1, 1]
 * ```
 */
export function quotas(n: number, fractions: SplitFractions): [number, number, number] {
  const f = checkFractions(fractions);
  const exact = SPLITS.map((s) => n * f[s]);
  const counts = exact.map(Math.floor) as [number, number, number];
  const order = [0, 1, 2].sort((a, b) => (exact[b] - counts[b]) - (exact[a] - counts[a]) || a - b);
  for (let left = n - counts[0] - counts[1] - counts[2], i = 0; left > 0; left--, i++) {
    counts[order[i % 3]]++;
  }
  return counts;
}

function checkFractions(f: SplitFractions): SplitFractions {
  const values = SPLITS.map((s) => f[s]);
  const sum = values.reduce((a, b) => a + b, 0);
  if (values.some((v) => !(v >= 0)) || !(sum > 0)) {
    throw new Error(`split fractions must be >= 0 with a positive sum; got ${JSON.stringify(f)}`);
  }
  return { train: f.train / sum, validation: f.validation / sum, test: f.test / sum };
}
