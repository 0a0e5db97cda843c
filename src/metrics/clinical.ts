/**
 * Clinical-relevance metrics of top-k lists: a result counts when it is clinically like the query
 * (same normal/abnormal label, or overlapping findings), not only when it is the paired item.
 * Relevance is defined between studies; per-study evaluation indexes queries and candidates alike
 * (row i is study i's image and report), per-image evaluation maps images to their studies
 * ({@link imageRelevance}). Definitions are in the README ("Metrics").
 *
 * @module
 */

import type { Metrics } from "./retrieval_metrics.ts";

/** The cut-offs K of P@K, mAP@K and nDCG@K. */
export const CLINICAL_AT = [10, 20] as const;

/** The top-k length the clinical metrics need: the largest cut-off. */
export const CLINICAL_TOP_K = 20;

/**
 * How relevant each candidate is to each query (per study both are study indices in
 * `[0, size)`; per image see {@link imageRelevance}).
 */
export interface Relevance {
  /** Metric name part: `label` or `findings`. */
  readonly name: string;
  /** Candidates (per study: studies, queries = candidates). */
  readonly size: number;
  /** Gain in [0, 1] of `candidate` for `query`; relevant when > 0. */
  gain(query: number, candidate: number): number;
  /** Every candidate's gain for `query`, highest first (the ideal ranking). */
  ideal(query: number): Float64Array;
}

/**
 * What each relevance means and when a candidate counts as relevant (P@K, mAP@K, MRR), as
 * `eval.json` states it.
 * @example
 * ```ts
 * RELEVANCE_RULES.findings; // "gain = Jaccard overlap … relevant when the gain is > 0"
 * ```
 */
export const RELEVANCE_RULES: Readonly<Record<string, string>> = {
  label: "gain 1 when the candidate's normal/abnormal label equals the query's, else 0; " +
    "relevant when the gain is 1",
  findings: "gain = Jaccard overlap |F_q ∩ F_c| / |F_q ∪ F_c| of the studies' finding sets " +
    "(1 when both have none), graded in nDCG; relevant when the gain is > 0",
};

/**
 * Binary relevance: a candidate is relevant (gain 1) when its label (0 normal, 1 abnormal) equals
 * the query's.
 * @example
 * ```ts
 * const rel = labelRelevance(new Int32Array([0, 1, 0]));
 * rel.gain(0, 2); // 1
 * rel.ideal(1); // Float64Array [1, 0, 0]
 * ```
 */
export function labelRelevance(labels: Int32Array): Relevance {
  const ideals = new Map<number, Float64Array>();
  return {
    name: "label",
    size: labels.length,
    gain: (q, c) => labels[q] === labels[c] ? 1 : 0,
    ideal(q) {
      const l = labels[q];
      let list = ideals.get(l);
      if (!list) {
        const same = labels.filter((x) => x === l).length;
        list = Float64Array.from({ length: labels.length }, (_, i) => i < same ? 1 : 0);
        ideals.set(l, list);
      }
      return list;
    },
  };
}

/**
 * Graded relevance by finding overlap: the gain is the Jaccard index |F_q ∩ F_c| / |F_q ∪ F_c| of
 * the two studies' finding sets (1 when both have none: two studies without findings agree), so a
 * candidate is relevant when it shares a finding with the query or both have none. Use only where
 * finding labels exist.
 * @example
 * ```ts
 * const rel = findingsRelevance([["Cardiomegaly", "Effusion"], ["Effusion"], []]);
 * rel.gain(0, 1); // 0.5
 * rel.gain(2, 0); // 0
 * ```
 */
export function findingsRelevance(findings: readonly (readonly string[])[]): Relevance {
  const sets = findings.map((f) => new Set(f));
  const keys = sets.map((s) => [...s].sort().join("\u0000"));
  // Studies with the same finding set share one ideal list: group them once.
  const groups = new Map<string, { set: Set<string>; count: number }>();
  keys.forEach((k, i) => {
    const g = groups.get(k);
    if (g) g.count++;
    else groups.set(k, { set: sets[i], count: 1 });
  });
  const ideals = new Map<string, Float64Array>();
  const jaccard = (a: Set<string>, b: Set<string>) => {
    if (a.size === 0 && b.size === 0) return 1;
    let both = 0;
    for (const x of a) if (b.has(x)) both++;
    return both / (a.size + b.size - both);
  };
  return {
    name: "findings",
    size: findings.length,
    gain: (q, c) => jaccard(sets[q], sets[c]),
    ideal(q) {
      let list = ideals.get(keys[q]);
      if (!list) {
        const gains: number[] = [];
        for (const g of groups.values()) {
          const v = jaccard(sets[q], g.set);
          for (let i = 0; i < g.count; i++) gains.push(v);
        }
        list = Float64Array.from(gains).sort().reverse();
        ideals.set(keys[q], list);
      }
      return list;
    },
  };
}

/**
 * Per-image relevance from a study relevance: image→text queries are images (`queryStudy`: each
 * image's study), text→image candidates are images (`candidateStudy`); an image is as relevant as
 * its study. Give one of the two maps: the other side stays studies. The ideal ranking of a
 * report query lists every image, so a study with three images counts three times.
 * @example
 * ```ts
 * const byLabel = labelRelevance(new Int32Array([0, 1]));
 * const textToImage = imageRelevance(byLabel, { candidateStudy: Int32Array.of(0, 0, 1) });
 * textToImage.size; // 3 images
 * textToImage.gain(0, 1); // 1: image 1 is study 0's
 * textToImage.ideal(0); // Float64Array [1, 1, 0]
 * ```
 */
export function imageRelevance(
  relevance: Relevance,
  map: { queryStudy?: ArrayLike<number>; candidateStudy?: ArrayLike<number> },
): Relevance {
  const { queryStudy, candidateStudy } = map;
  if (!queryStudy === !candidateStudy) {
    throw new Error("imageRelevance: give queryStudy (image queries) or candidateStudy, not both");
  }
  if (queryStudy) {
    return {
      name: relevance.name,
      size: relevance.size,
      gain: (q, c) => relevance.gain(queryStudy[q], c),
      ideal: (q) => relevance.ideal(queryStudy[q]),
    };
  }
  const studyOf = candidateStudy!;
  const ideals = new Map<number, Float64Array>();
  return {
    name: relevance.name,
    size: studyOf.length,
    gain: (q, c) => relevance.gain(q, studyOf[c]),
    ideal(q) {
      let list = ideals.get(q);
      if (!list) {
        const perStudy = Float64Array.from(
          { length: relevance.size },
          (_, s) => relevance.gain(q, s),
        );
        list = Float64Array.from(studyOf, (s) => perStudy[s]).sort().reverse();
        ideals.set(q, list);
      }
      return list;
    },
  };
}

/**
 * `<prefix>_<name>_P@K`, `_mAP@K`, `_nDCG@K` (K in {@link CLINICAL_AT}) and `_MRR`, averaged over
 * every query (those with no relevant candidate count as 0). `top` holds each query's best `topK`
 * candidate indices, best first; with N = `relevance.size` candidates a cut-off K reads the first
 * K' = min(K, N) of them, so `topK` must be ≥ min(20, N).
 * - P@K: relevant results in the first K' / K'.
 * - AP@K: Σ over relevant positions r ≤ K' of P@r, divided by min(K', R) where R counts the
 *   relevant candidates among all N; 0 when R = 0. mAP@K is its mean.
 * - nDCG@K: Σ_{r ≤ K'} gain_r / log2(r + 1), divided by the same sum over the ideal ranking's
 *   first K' gains; 0 when that is 0.
 * - MRR: 1 / the position of the first relevant result in the top `topK`, 0 when none is there.
 * @example
 * ```ts
 * const rel = labelRelevance(new Int32Array([0, 0, 1]));
 * const top = new Uint32Array([2, 0, 1, 1, 0, 2, 2, 1, 0]); // 3 queries x top 3
 * clinicalMetrics(top, 3, rel, "image_to_text")["image_to_text_label_MRR"]; // (1/2 + 1 + 1) / 3
 * ```
 */
export function clinicalMetrics(
  top: Uint32Array,
  topK: number,
  relevance: Relevance,
  prefix: string,
): Metrics {
  const n = relevance.size, queries = top.length / topK;
  const need = Math.min(CLINICAL_TOP_K, n);
  if (!Number.isInteger(queries) || queries === 0 || topK < need) {
    throw new RangeError(
      `${prefix}: clinical metrics need a top-${need} list per query, got ${top.length} ` +
        `indices as top-${topK} lists`,
    );
  }
  const name = `${prefix}_${relevance.name}`;
  const sums: Metrics = {};
  const add = (key: string, v: number) => sums[key] = (sums[key] ?? 0) + v;
  for (let q = 0; q < queries; q++) {
    const gains = Array.from(top.subarray(q * topK, (q + 1) * topK), (c) => relevance.gain(q, c));
    const ideal = relevance.ideal(q);
    const relevantTotal = ideal.filter((g) => g > 0).length;
    const first = gains.findIndex((g) => g > 0);
    add(`${name}_MRR`, first < 0 ? 0 : 1 / (first + 1));
    for (const k of CLINICAL_AT) {
      const cut = Math.min(k, n);
      let hits = 0, precisionSum = 0, dcg = 0, idcg = 0;
      for (let r = 0; r < cut; r++) {
        if (gains[r] > 0) precisionSum += ++hits / (r + 1);
        dcg += gains[r] / Math.log2(r + 2);
        idcg += ideal[r] / Math.log2(r + 2);
      }
      add(`${name}_P@${k}`, hits / cut);
      add(
        `${name}_mAP@${k}`,
        relevantTotal === 0 ? 0 : precisionSum / Math.min(cut, relevantTotal),
      );
      add(`${name}_nDCG@${k}`, idcg === 0 ? 0 : dcg / idcg);
    }
  }
  const out: Metrics = {};
  for (const [key, sum] of Object.entries(sums)) out[key] = sum / queries;
  return out;
}

/**
 * `<prefix>_MRR` of the paired item: the mean of 1 / (rank + 1) over 0-based ranks (the full
 * ranking, no cut-off).
 * @example
 * ```ts
 * pairReciprocalRank([0, 1, 3], "text_to_image"); // { text_to_image_MRR: (1 + 1/2 + 1/4) / 3 }
 * ```
 */
export function pairReciprocalRank(ranks: ArrayLike<number>, prefix: string): Metrics {
  if (ranks.length === 0) throw new Error(`${prefix}: no queries to evaluate`);
  let sum = 0;
  for (let i = 0; i < ranks.length; i++) sum += 1 / (ranks[i] + 1);
  return { [`${prefix}_MRR`]: sum / ranks.length };
}
