import assert from "node:assert/strict";
import {
  inputDistances,
  jointProbabilities,
  klDivergence,
  klGradient,
  tsne,
  type TsneProgress,
} from "../src/eval/tsne.ts";
import { assertClose, gpuTest, numericGradient, randn, Rng } from "./util/check.ts";

interface AffinityFixture {
  count: number;
  dim: number;
  points: number[];
  cases: { metric: "euclidean" | "cosine"; perplexity: number; distances: number[]; p: number[] }[];
}

const fixture: AffinityFixture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/tsne_affinities.json", import.meta.url)),
);

/** `count` points in `dim` dimensions around `classes` well-separated centers. */
function blobs(count: number, dim: number, classes: number, seed: number) {
  const rng = new Rng(seed);
  const centers = randn(rng, classes * dim, 10);
  const labels = new Int32Array(count).map((_, i) => i % classes);
  const points = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < dim; k++) points[i * dim + k] = centers[labels[i] * dim + k] + rng.normal();
  }
  return { points, labels };
}

/** Share of each point's k nearest 2-D neighbours that carry its label. */
function knnAgreement(y: Float64Array, labels: Int32Array, k: number): number {
  const n = labels.length;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const d = Array.from(
      { length: n },
      (_, j) => [Math.hypot(y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]), j],
    );
    d.sort((a, b) => a[0] - b[0]);
    for (let r = 1; r <= k; r++) if (labels[d[r][1]] === labels[i]) agree++;
  }
  return agree / (n * k);
}

Deno.test("t-SNE distances and perplexity-calibrated P match the NumPy oracle", () => {
  const { count, dim } = fixture;
  for (const c of fixture.cases) {
    const d = inputDistances(Float32Array.from(fixture.points), count, dim, c.metric);
    assertClose(d, c.distances, { atol: 1e-9, rtol: 1e-9 }, `${c.metric} distances`);
    const p = jointProbabilities(d, count, c.perplexity);
    assertClose(p, c.p, { atol: 1e-6, rtol: 0 }, `${c.metric} P (perplexity ${c.perplexity})`);
    assertClose(p, c.p, { atol: 1e-8, rtol: 1e-4 }, `${c.metric} P, relative`);
  }
});

Deno.test("t-SNE gradient matches finite differences of the KL divergence", () => {
  const rng = new Rng(5);
  const count = 9, dim = 4;
  const p = jointProbabilities(
    inputDistances(Float32Array.from(randn(rng, count * dim)), count, dim, "euclidean"),
    count,
    3,
  );
  const y = randn(rng, 2 * count);
  const grad = new Float64Array(2 * count), scratch = new Float64Array(2 * count);
  klGradient(p, y, count, 1, grad, scratch);
  const numeric = numericGradient((v) => klDivergence(p, v, count), y);
  assertClose(grad, numeric, { atol: 1e-8, rtol: 1e-6 }, "dKL/dy");
});

Deno.test("t-SNE keeps well-separated blobs apart, lowers KL, and is deterministic by seed", () => {
  const { points, labels } = blobs(300, 20, 4, 1);
  const reports: TsneProgress[] = [];
  const y = tsne(points, 300, 20, { perplexity: 30, seed: 3, onProgress: (r) => reports.push(r) });
  assert.deepEqual(y.length, 600);
  assert.ok(y.every(Number.isFinite));
  const agreement = knnAgreement(y, labels, 10);
  assert.ok(agreement > 0.95, `kNN label agreement ${agreement}`);
  assert.deepEqual(
    reports.map((r) => r.iteration),
    Array.from({ length: 20 }, (_, i) => 50 * (i + 1)),
  );
  const kl = reports.map((r) => r.kl);
  assert.ok(kl.at(-1)! < kl[0]);
  assert.ok(kl.at(-1)! < kl[5]); // right after early exaggeration
  for (let i = 6; i < kl.length; i++) assert.ok(kl[i] <= kl[i - 1] + 1e-3, `KL rose: ${kl}`);

  const again = tsne(points, 300, 20, { perplexity: 30, seed: 3, iterations: 300 });
  const same = tsne(points, 300, 20, { perplexity: 30, seed: 3, iterations: 300 });
  const other = tsne(points, 300, 20, { perplexity: 30, seed: 4, iterations: 300 });
  assert.deepEqual(again, same);
  assert.ok(again.some((v, i) => v !== other[i]), "another seed gave the same embedding");
});

Deno.test("t-SNE with the cosine metric separates directions", () => {
  const { points, labels } = blobs(200, 16, 2, 2);
  const y = tsne(points, 200, 16, { metric: "cosine", perplexity: 20, iterations: 500 });
  const agreement = knnAgreement(y, labels, 10);
  assert.ok(agreement > 0.95, `kNN label agreement ${agreement}`);
});

Deno.test("t-SNE lowers the default perplexity for small sets", () => {
  const { points } = blobs(12, 3, 2, 3);
  const y = tsne(points, 12, 3, { iterations: 50 });
  assert.ok(y.length === 24 && y.every(Number.isFinite));
});

Deno.test("t-SNE rejects bad input with clear errors", () => {
  const pts = new Float32Array(10 * 3);
  assert.throws(() => tsne(pts, 10, 4), /expected count × dim = 10 × 4 = 40 values, got 30/);
  assert.throws(() => tsne(pts.map(() => 1), 10, 3, { perplexity: 10 }), /perplexity must be in/);
  assert.throws(() => tsne(pts.map((_, i) => (i === 7 ? NaN : i)), 10, 3), /point 2, column 1/);
  assert.throws(() => tsne(pts, 10, 3, { metric: "cosine", perplexity: 3 }), /point 0 has norm 0/);
  assert.throws(
    () => tsne(pts.map(() => 1), 10, 3, { iterations: 1.5, perplexity: 3 }),
    /iterations/,
  );
});

gpuTest("t-SNE on the GPU matches the CPU path's quality and reports progress", async (gpu) => {
  const { points, labels } = blobs(300, 20, 4, 1);
  const opts = { perplexity: 30, seed: 3 };
  const cpu: TsneProgress[] = [], onGpu: TsneProgress[] = [];
  tsne(points, 300, 20, { ...opts, onProgress: (r) => cpu.push(r) });
  const y = await tsne(points, 300, 20, { ...opts, gpu, onProgress: (r) => onGpu.push(r) });
  assert.ok(y instanceof Float64Array && y.length === 600 && y.every(Number.isFinite));
  const agreement = knnAgreement(y, labels, 10);
  assert.ok(agreement > 0.95, `kNN label agreement ${agreement}`);
  assert.deepEqual(onGpu.map((r) => r.iteration), cpu.map((r) => r.iteration));
  // float32 iterations drift from float64 ones, so compare the objective, not the coordinates.
  const kl = (r: TsneProgress[]) => r.at(-1)!.kl;
  assert.ok(Math.abs(kl(onGpu) - kl(cpu)) < 0.02 * kl(cpu), `KL ${kl(onGpu)} against ${kl(cpu)}`);
});
