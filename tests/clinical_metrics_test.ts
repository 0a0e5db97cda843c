import assert from "node:assert/strict";
import {
  clinicalMetrics,
  findingsRelevance,
  imageRelevance,
  labelRelevance,
  pairReciprocalRank,
  type Relevance,
} from "../src/metrics/clinical.ts";
import {
  bestPaired,
  groupRank,
  type PairedColumns,
  pairRank,
  withTies,
} from "../src/metrics/ranks.ts";
import { clinicalRetrievalMetrics, rankPaired, rankQueries } from "../src/metrics/evaluate.ts";
import { rankMetrics } from "../src/metrics/retrieval_metrics.ts";
import { topK } from "../src/reference/retrieval.ts";
import { tryGetGpu } from "../src/gpu/context.ts";
import { gpuTest } from "./util/check.ts";

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

Deno.test("pairRank: ties against the query (default), for it, or averaged; non-finite last", () => {
  const row = [0.2, 0.7, 0.7, 0.9, 0.7, NaN, Infinity];
  assert.equal(pairRank(row, 2), 3); // 0.9 above, two other 0.7s tied
  assert.equal(pairRank(row, 2, "optimistic"), 1);
  assert.equal(pairRank(row, 2, "average"), 2);
  assert.equal(pairRank(row, 0), 4); // the non-finite scores never count as higher
  assert.equal(pairRank(row, 5), 6);
  assert.equal(pairRank([0, -0], 1), 1); // -0 ties with +0, as the GPU's order key
  assert.throws(() => pairRank(row, 7), /target 7/);
});

Deno.test("withTies: the GPU's optimistic ranks plus exact ties equal the CPU reference", () => {
  const rows = 40, cols = 25;
  // Few distinct values so most rows have ties, and a non-finite score now and then.
  const scores = Float32Array.from(
    { length: rows * cols },
    (_, i) => i % 37 === 5 ? NaN : ((i * 7919) % 5) / 4,
  );
  const targets = Array.from({ length: rows }, (_, i) => (i * 3) % cols);
  const row = (i: number) => scores.subarray(i * cols, (i + 1) * cols);
  const optimistic = targets.map((t, i) => pairRank(row(i), t, "optimistic"));
  for (const rule of ["pessimistic", "average", "optimistic"] as const) {
    assert.deepEqual(
      Array.from(withTies(optimistic, scores, cols, targets, rule)),
      targets.map((t, i) => pairRank(row(i), t, rule)),
      rule,
    );
  }
  assert.throws(() => withTies([0], scores, cols, [0]), /expected 1 targets and 1 x 25 scores/);
});

Deno.test("pairReciprocalRank: mean of 1 / (rank + 1)", () => {
  close(pairReciprocalRank([0, 1, 3], "x")["x_MRR"], (1 + 1 / 2 + 1 / 4) / 3, "MRR");
  assert.throws(() => pairReciprocalRank([], "x"), /no queries/);
});

/** Top-k lists from per-query orderings written out by hand, padded to `k` with the rest. */
function lists(orders: number[][], n: number, k: number): Uint32Array {
  return Uint32Array.from(orders.flatMap((o) => {
    const rest = Array.from({ length: n }, (_, i) => i).filter((i) => !o.includes(i));
    return [...o, ...rest].slice(0, k);
  }));
}

Deno.test("clinicalMetrics by label: several relevant items, P@K, AP@K normalization, MRR", () => {
  // 25 studies: 0..4 abnormal, the rest normal. Query 0 (abnormal) retrieves 7, 1, 8, 2 first:
  // relevant at positions 2 and 4, R = 5 abnormal studies in all.
  const n = 25;
  const labels = Int32Array.from({ length: n }, (_, i) => i < 5 ? 1 : 0);
  const top = lists([[7, 1, 8, 2, ...Array.from({ length: 16 }, (_, i) => 9 + i)]], n, 20);
  const m = clinicalMetrics(top, 20, labelRelevance(labels), "image_to_text");
  close(m["image_to_text_label_P@10"], 2 / 10, "P@10");
  close(m["image_to_text_label_P@20"], 2 / 20, "P@20");
  close(m["image_to_text_label_mAP@10"], (1 / 2 + 2 / 4) / Math.min(10, 5), "AP@10");
  close(m["image_to_text_label_MRR"], 1 / 2, "MRR");
  // Binary nDCG: DCG = 1/log2(3) + 1/log2(5); ideal = five hits at the top.
  const ideal = [1, 2, 3, 4, 5].reduce((a, r) => a + 1 / Math.log2(r + 1), 0);
  close(m["image_to_text_label_nDCG@10"], (1 / Math.log2(3) + 1 / Math.log2(5)) / ideal, "nDCG");
});

Deno.test("clinicalMetrics: K larger than N reads the whole list; no relevant item counts 0", () => {
  // 3 studies, labels [1, 0, 0]: query 0 has only itself relevant, queries 1 and 2 have two.
  const labels = new Int32Array([1, 0, 0]);
  const top = lists([[1, 2, 0], [1, 0, 2], [0, 1, 2]], 3, 3);
  const m = clinicalMetrics(top, 3, labelRelevance(labels), "t");
  // K' = min(10, 3) = 3 for both cut-offs.
  const ap = [(1 / 3) / 1, (1 + 2 / 3) / 2, (1 / 2 + 2 / 3) / 2];
  for (const k of [10, 20]) {
    close(m[`t_label_P@${k}`], (1 / 3 + 2 / 3 + 2 / 3) / 3, `P@${k}`);
    close(m[`t_label_mAP@${k}`], (ap[0] + ap[1] + ap[2]) / 3, `mAP@${k}`);
  }
  close(m["t_label_MRR"], (1 / 3 + 1 + 1 / 2) / 3, "MRR");
  // A query with no relevant candidate at all (never in per-study evaluation, where its own
  // study is relevant; possible with other candidate sets) scores 0 and counts in the mean.
  const none: Relevance = { name: "x", size: 2, gain: () => 0, ideal: () => new Float64Array(2) };
  const zero = clinicalMetrics(Uint32Array.from([0, 1]), 2, none, "q");
  for (const key of ["q_x_mAP@10", "q_x_nDCG@10", "q_x_MRR", "q_x_P@20"]) {
    assert.equal(zero[key], 0);
  }
  assert.throws(() => clinicalMetrics(top.subarray(0, 6), 2, labelRelevance(labels), "t"), /top-3/);
});

Deno.test("clinicalMetrics by findings: graded nDCG computed by hand", () => {
  const findings = [["A", "B"], ["A"], ["B", "C"], [], ["A", "B"]];
  const rel = findingsRelevance(findings);
  assert.equal(rel.gain(0, 1), 1 / 2);
  assert.equal(rel.gain(0, 2), 1 / 3);
  assert.equal(rel.gain(3, 3), 1); // no findings on either side: they agree
  assert.equal(rel.gain(0, 3), 0);
  assert.deepEqual(Array.from(rel.ideal(0)), [1, 1, 1 / 2, 1 / 3, 0]);
  // Query 0 retrieves 2, 3, 0, 1, 4: gains 1/3, 0, 1, 1/2, 1.
  const top = lists([[2, 3, 0, 1, 4]], 5, 5);
  const m = clinicalMetrics(top, 5, rel, "image_to_text");
  const dcg = 1 / 3 + 0 + 1 / Math.log2(4) + (1 / 2) / Math.log2(5) + 1 / Math.log2(6);
  const idcg = 1 + 1 / Math.log2(3) + (1 / 2) / Math.log2(4) + (1 / 3) / Math.log2(5);
  close(m["image_to_text_findings_nDCG@10"], dcg / idcg, "nDCG@10");
  // Binary view: relevant = any overlap, at positions 1, 3, 4, 5 of 5; R = 4.
  close(m["image_to_text_findings_P@10"], 4 / 5, "P@10");
  close(m["image_to_text_findings_mAP@10"], (1 + 2 / 3 + 3 / 4 + 4 / 5) / 4, "AP@10");
  close(m["image_to_text_findings_MRR"], 1, "MRR");
});

Deno.test("rankQueries and clinicalRetrievalMetrics on the GPU match the CPU reference", async (t) => {
  const gpu = await tryGetGpu();
  if (!gpu) {
    t.step({ name: "skipped: no WebGPU adapter", ignore: true, fn: () => {} });
    return;
  }
  // 24 studies in 4-d; reports repeat one of 3 vectors (identical normal reports tie exactly).
  const n = 24, dim = 4;
  const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));
  const studies = Array.from({ length: n }, (_, i) => i);
  const image = Float32Array.from(
    studies.flatMap((i) => unit([1 + (i % 5), (i * 7) % 3, i % 2, 1])),
  );
  const kinds = [unit([1, 0, 0, 0]), unit([0, 1, 1, 0]), unit([1, 1, 0, 1])];
  const text = Float32Array.from(studies.flatMap((i) => kinds[i % 3]));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3 === 0 ? 0 : 1);
  const findings = Array.from(
    { length: n },
    (_, i) => i % 3 === 0 ? [] : [`F${i % 3}`, `G${i % 4}`],
  );
  const scale = gpu.storage(new Float32Array([0]));
  const zi = gpu.storage(image), zt = gpu.storage(text);
  const r = await rankQueries(gpu, zi, zt, n, dim, scale, 20);
  const dot = (a: Float32Array, i: number, b: Float32Array, j: number) =>
    Math.fround(a.subarray(i * dim, i * dim + dim).reduce((s, x, d) => s + x * b[j * dim + d], 0));
  // The tie structure does not depend on rounding: equal report vectors give equal scores.
  let tiedQueries = 0;
  for (let q = 0; q < n; q++) {
    const row = Array.from({ length: n }, (_, c) => dot(image, q, text, c));
    assert.equal(r.ranks[q], pairRank(row, q), `query ${q}`);
    if (pairRank(row, q) > pairRank(row, q, "optimistic")) tiedQueries++;
  }
  assert.equal(tiedQueries, n); // every report has 7 identical copies: the case is about ties
  const rel = [labelRelevance(labels), findingsRelevance(findings)];
  const pairs = { zImage: zi, zText: zt, count: n, dim, logitScale: scale };
  const m = await clinicalRetrievalMetrics(gpu, pairs, rel);
  for (const one of rel) {
    const cpu = clinicalMetrics(r.top, r.k, one, "image_to_text");
    for (const [key, v] of Object.entries(cpu)) close(m[key], v, key);
  }
  assert.ok("text_to_image_findings_nDCG@20" in m && "image_to_text_MRR" in m);
  assert.equal(m["image_to_text_R@1"], Array.from(r.ranks).filter((x) => x < 1).length / n);
});

Deno.test("groupRank: the best paired column, ranked among the unpaired ones only", () => {
  // Columns 1..3 are the query's (one study's images); the best is column 2 (0.8).
  const row = [0.9, 0.5, 0.8, 0.8, 0.8, 0.2, NaN];
  assert.equal(bestPaired(row, 1, 4), 2);
  assert.equal(groupRank(row, 1, 4), 2); // 0.9 above; 0.8 at column 4 tied; column 3 is its own
  assert.equal(groupRank(row, 1, 4, "optimistic"), 1);
  assert.equal(groupRank(row, 1, 4, "average"), 1.5);
  assert.equal(groupRank(row, 5, 6), pairRank(row, 5)); // one paired column: pairRank
  assert.equal(groupRank(row, 6, 7), 6); // no finite paired score: last
  assert.equal(groupRank([NaN, 0.3, 0.1], 0, 2), 0); // a NaN image does not hide the other one
  assert.throws(() => groupRank(row, 3, 3), /paired columns \[3, 3\)/);
  // withTies with paired ranges equals groupRank, whatever the rule.
  const rows = 30, cols = 12;
  const scores = Float32Array.from(
    { length: rows * cols },
    (_, i) => i % 29 === 3 ? NaN : ((i * 7919) % 4) / 3,
  );
  const start = Array.from({ length: rows }, (_, i) => i % 9);
  const end = start.map((s, i) => s + 1 + (i % 3));
  const rowOf = (i: number) => scores.subarray(i * cols, (i + 1) * cols);
  const best = start.map((s, i) => bestPaired(rowOf(i), s, end[i]));
  const optimistic = start.map((s, i) => groupRank(rowOf(i), s, end[i], "optimistic"));
  for (const rule of ["pessimistic", "average", "optimistic"] as const) {
    assert.deepEqual(
      Array.from(withTies(optimistic, scores, cols, best, rule, { start, end })),
      start.map((s, i) => groupRank(rowOf(i), s, end[i], rule)),
      rule,
    );
  }
});

Deno.test("imageRelevance: images take their study's relevance; ideal lists count images", () => {
  const rel = findingsRelevance([[], ["A"], ["A", "B"]]);
  const imageStudy = Int32Array.of(0, 0, 1, 2, 2, 2);
  const queries = imageRelevance(rel, { queryStudy: imageStudy });
  assert.equal(queries.size, 3);
  assert.equal(queries.gain(5, 1), 1 / 2); // image 5 is study 2's: {A, B} vs {A}
  assert.deepEqual(Array.from(queries.ideal(5)), Array.from(rel.ideal(2)));
  const candidates = imageRelevance(rel, { candidateStudy: imageStudy });
  assert.equal(candidates.size, 6);
  assert.equal(candidates.gain(1, 4), 1 / 2);
  assert.deepEqual(Array.from(candidates.ideal(1)), [1, 1 / 2, 1 / 2, 1 / 2, 0, 0]);
  assert.throws(() => imageRelevance(rel, {}), /queryStudy .* or candidateStudy/);
});

/**
 * Per image, by hand: 3 studies with 2, 1 and 3 images; reports 0 and 2 are the same vector and
 * images 1 and 2 too, so paired scores tie exactly with other studies'.
 */
const HAND = {
  dim: 2,
  text: [[1, 0], [0, 1], [1, 0]],
  images: [[0.6, 0.8], [1, 0], [1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]],
  imageStudy: Int32Array.of(0, 0, 1, 2, 2, 2),
  labels: Int32Array.of(0, 1, 0),
  findings: [[], ["A"], ["A", "B"]],
  // Report 0: best own image 1 (1.0), image 2 ties outside. Report 1: its one image scores 0,
  // four images above and image 1 tied: last. Report 2: best own image 4 (0.8), images 1, 2 above.
  textToImage: [1, 5, 2],
  // Image 0: report 1 above, report 2 tied. Image 1: report 2 tied. Image 2 (study 1): reports 0
  // and 2 above. Image 3: report 1 above, report 0 tied. Images 4, 5 like images 1, 0 for report 2.
  imageToText: [2, 1, 2, 2, 1, 2],
};

gpuTest(
  "per image on the GPU: hand-computed ranks, metrics equal the CPU composition",
  async (gpu) => {
    const { dim, imageStudy } = HAND;
    const text = Float32Array.from(HAND.text.flat()),
      images = Float32Array.from(HAND.images.flat());
    const n = 3, m = imageStudy.length;
    const zt = gpu.storage(text),
      zi = gpu.storage(images),
      scale = gpu.storage(new Float32Array(1));
    const paired = { start: Uint32Array.of(0, 2, 3), end: Uint32Array.of(2, 3, 6) };
    const single = { start: Uint32Array.from(imageStudy), end: imageStudy.map((s) => s + 1) };
    const ranked = [[zt, zi, n, m, paired], [zi, zt, m, n, single]] as const;
    const rankings = [];
    for (const [q, c, queries, candidates, pairing] of ranked) {
      const shape = { queries, candidates, dim, k: candidates };
      rankings.push(await rankPaired(gpu, q, c, shape, scale, pairing));
    }
    const [t2i, i2t] = rankings;
    assert.deepEqual(Array.from(t2i.ranks), HAND.textToImage);
    assert.deepEqual(Array.from(i2t.ranks), HAND.imageToText);

    const rel = [labelRelevance(HAND.labels), findingsRelevance(HAND.findings)];
    const pairs = { zImage: zi, zText: zt, count: n, dim, logitScale: scale, imageStudy };
    const got = await clinicalRetrievalMetrics(gpu, pairs, rel);
    // The CPU composition: float64 scores (exact here), top-k by the twin, groupRank, metrics.
    const cpu = (
      prefix: string,
      q: number[][],
      c: number[][],
      ranges: PairedColumns,
      map: object,
    ) => {
      const scores = Float64Array.from(q.flatMap((a) => c.map((b) => a[0] * b[0] + a[1] * b[1])));
      const k = c.length, top = new Uint32Array(q.length * k);
      topK(scores, top, new Float64Array(q.length * k), { rows: q.length, cols: k, k });
      const ranks = q.map((_, i) =>
        groupRank(scores.subarray(i * k, (i + 1) * k), ranges.start[i], ranges.end[i])
      );
      const out = { ...rankMetrics(ranks, prefix), ...pairReciprocalRank(ranks, prefix) };
      for (const r of rel) {
        Object.assign(out, clinicalMetrics(top, k, imageRelevance(r, map), prefix));
      }
      return out;
    };
    const expected = {
      ...cpu("image_to_text", HAND.images, HAND.text, single, { queryStudy: imageStudy }),
      ...cpu("text_to_image", HAND.text, HAND.images, paired, { candidateStudy: imageStudy }),
    };
    assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort());
    for (const [key, v] of Object.entries(expected)) close(got[key], v, key);
    // A few by hand: no rank 0 anywhere; report 1 ranks last (R@5 misses it).
    assert.equal(got["image_to_text_R@1"], 0);
    close(got["text_to_image_R@5"], 2 / 3, "T→I R@5");
    close(got["text_to_image_mean_rank"], (2 + 6 + 3) / 3, "T→I mean rank");
    // Report 0 (normal) lists images 1, 2, 4, 0, 5, 3: image 2 is study 1's (abnormal).
    // Reports 1 and 2: K' = 6 images, of which 1 resp. 5 are relevant by label.
    close(got["text_to_image_label_P@10"], (5 / 6 + 1 / 6 + 5 / 6) / 3, "T→I label P@10");
    await assert.rejects(
      () => clinicalRetrievalMetrics(gpu, { ...pairs, imageStudy: Int32Array.of(0, 2, 2) }, rel),
      /imageStudy\[1\] is 2/,
    );
    for (const b of [zt, zi, scale]) b.buffer.destroy();
  },
);

gpuTest(
  "rankPaired in several chunks: report queries against grouped images, many ties",
  async (gpu) => {
    // 1,100 reports (more than one chunk of queries) and 1 to 3 images each; entries in {0, ½, 1}
    // so every dot product is exact in float32 and ties are common.
    const n = 1100, dim = 4;
    const per = Array.from({ length: n }, (_, i) => 1 + (i * 7) % 3);
    const start = new Uint32Array(n), end = new Uint32Array(n);
    per.reduce((at, c, i) => (start[i] = at, end[i] = at + c, at + c), 0);
    const m = end[n - 1];
    const entry = (i: number) => ((i * 2654435761) >>> 7) % 3 / 2;
    const text = Float32Array.from({ length: n * dim }, (_, i) => entry(i));
    const images = Float32Array.from({ length: m * dim }, (_, i) => entry(i + 99991));
    const zt = gpu.storage(text),
      zi = gpu.storage(images),
      scale = gpu.storage(new Float32Array(1));
    const shape = { queries: n, candidates: m, dim, k: 20 };
    const r = await rankPaired(gpu, zt, zi, shape, scale, { start, end });
    const row = new Float64Array(m);
    let grouped = 0;
    for (let q = 0; q < n; q++) {
      for (let c = 0; c < m; c++) {
        let s = 0;
        for (let d = 0; d < dim; d++) s += text[q * dim + d] * images[c * dim + d];
        row[c] = s;
      }
      assert.equal(r.ranks[q], groupRank(row, start[q], end[q]), `report ${q}`);
      if (groupRank(row, start[q], end[q]) > groupRank(row, start[q], end[q], "optimistic")) {
        grouped++;
      }
    }
    assert.ok(grouped > n / 2, `${grouped} queries with ties`);
    for (const b of [zt, zi, scale]) b.buffer.destroy();
  },
);
