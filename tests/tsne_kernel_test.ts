import assert from "node:assert/strict";
import type { GpuContext } from "../src/gpu/context.ts";
import { inputDistances, jointProbabilities, klDivergence, klGradient } from "../src/eval/tsne.ts";
import {
  tsneAffinityTexture,
  tsneChunks,
  tsneIteration,
  tsnePositionsLength,
  tsnePositionsTexture,
  type TsneShape,
  tsneStride,
} from "../src/ops/tsne.ts";
import * as twin from "../src/reference/tsne.ts";
import {
  assertClose,
  f32,
  f64,
  gpuTest,
  gpuTestVariants,
  numericGradient,
  randn,
  Rng,
} from "./util/check.ts";

/** Perplexity-calibrated P of `count` random points, rows padded to {@link tsneStride}. */
function affinities(rng: Rng, count: number): Float64Array {
  const x = Float32Array.from(randn(rng, count * 4));
  const p = jointProbabilities(inputDistances(x, count, 4, "euclidean"), count, (count - 1) / 3);
  const stride = tsneStride(count), padded = new Float64Array(count * stride);
  for (let i = 0; i < count; i++) padded.set(p.subarray(i * count, (i + 1) * count), i * stride);
  return padded;
}

/** The count×count matrix of padded rows. */
function unpad(p: Float64Array, count: number): Float64Array {
  const stride = tsneStride(count), out = new Float64Array(count * count);
  for (let i = 0; i < count; i++) out.set(p.subarray(i * stride, i * stride + count), i * count);
  return out;
}

/** The twin's gradient: forces per chunk, their sums, then `tsneGradient`. */
function twinGradient(p: Float64Array, y: Float64Array, shape: TsneShape): Float64Array {
  const { count } = shape, chunks = tsneChunks(shape);
  const forces = new Float64Array(4 * chunks * count), zParts = new Float64Array(chunks * count);
  const totals = new Float64Array(4 * count), zTotals = new Float64Array(count);
  twin.tsneForces(p, y, forces, zParts, shape);
  twin.tsneReduce(forces, zParts, totals, zTotals, shape);
  const grad = new Float64Array(2 * count);
  twin.tsneGradient(totals, zTotals, grad, shape);
  return grad;
}

Deno.test("tsne twin: gradient matches finite differences of the KL and the CPU path", () => {
  const rng = new Rng(7);
  for (const [count, chunk] of [[2, 4], [9, 4], [9, 12], [22, 8]]) {
    const padded = affinities(rng, count), p = unpad(padded, count), y = randn(rng, 2 * count);
    const shape = { count, chunk, exaggeration: 1, momentum: 0.5, lr: 10 };
    const grad = twinGradient(padded, y, shape);
    const numeric = numericGradient((v) => klDivergence(p, v, count), y);
    assertClose(grad, numeric, { atol: 1e-8, rtol: 1e-6 }, `dKL/dy ${count}/${chunk}`);
    // With exaggeration, against the CPU path's gradient.
    const cpu = new Float64Array(2 * count);
    klGradient(p, y, count, 12, cpu, new Float64Array(2 * count));
    const exaggerated = twinGradient(padded, y, { ...shape, exaggeration: 12 });
    assertClose(exaggerated, cpu, { atol: 1e-12, rtol: 1e-10 }, `exaggerated ${count}/${chunk}`);
  }
});

Deno.test("tsne twin: step applies gains, momentum and centering", () => {
  const shape = { count: 2, chunk: 2, exaggeration: 1, momentum: 0.5, lr: 2 };
  // grad = 4 (attr − rep / Z), Z = 2: point 0 [4, 0], point 1 [−4, 0].
  const totals = new Float64Array([1, 0, 0, 0, -1, 0, 0, 0]), zTotals = new Float64Array([1, 1]);
  const y = new Float64Array([0, 0, 1, 0]), update = new Float64Array([-1, 0, 1, 0]);
  const gains = new Float64Array([1, 1, 1, 0.01]);
  twin.tsneStep(totals, zTotals, y, update, gains, shape);
  // x: update·grad < 0 for both points → gain 1.2, update = 0.5·∓1 − 2·1.2·±4 = ∓10.1.
  assertClose(gains, [1.2, 0.8, 1.2, 0.01], { atol: 1e-12, rtol: 0 }, "gains");
  assertClose(update, [-10.1, 0, 10.1, 0], { atol: 1e-12, rtol: 0 }, "update");
  assertClose(y, [-10.6, 0, 10.6, 0], { atol: 1e-12, rtol: 0 }, "y (centered)");
});

/** One GPU iteration from the same state as one twin iteration, every buffer compared. */
async function compare(gpu: GpuContext, cases: [number, number][]) {
  const rng = new Rng(11);
  for (const [count, chunk] of cases) {
    const shape = { count, chunk, exaggeration: 12, momentum: 0.8, lr: 50 };
    const chunks = tsneChunks(shape);
    const p = f64(f32(affinities(rng, count)));
    const y = f64(f32(randn(rng, 2 * count, 3)));
    const update = f64(f32(randn(rng, 2 * count, 0.1)));
    const gains = f64(f32(randn(rng, 2 * count).map((v) => 0.5 + Math.abs(v))));
    const forces = new Float64Array(4 * chunks * count), zParts = new Float64Array(chunks * count);
    const totals = new Float64Array(4 * count), zTotals = new Float64Array(count);
    const positions = new Float32Array(tsnePositionsLength(count));
    positions.set(y);
    const buffers = {
      p: tsneAffinityTexture(gpu, f32(p), count),
      y: gpu.storage(positions),
      yTexture: tsnePositionsTexture(gpu, count),
      forces: gpu.storage(forces.length),
      zParts: gpu.storage(zParts.length),
      totals: gpu.storage(totals.length),
      zTotals: gpu.storage(count),
      update: gpu.storage(f32(update)),
      gains: gpu.storage(f32(gains)),
    };
    await gpu.runOnce(() => tsneIteration(gpu, buffers, shape));
    twin.tsneForces(p, y, forces, zParts, shape);
    twin.tsneReduce(forces, zParts, totals, zTotals, shape);
    twin.tsneStep(totals, zTotals, y, update, gains, shape);
    const [gf, gz, gt, gzt, gy, gu, gg] = await gpu.readMany([
      buffers.forces,
      buffers.zParts,
      buffers.totals,
      buffers.zTotals,
      buffers.y,
      buffers.update,
      buffers.gains,
    ]);
    const at = `${count} points, chunk ${chunk}`;
    const scale = (a: Float64Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // float32 sums of up to `chunk` terms: errors relative to the largest term.
    const rel = (a: Float64Array) => ({ atol: 2e-5 * scale(a), rtol: 1e-4 });
    assertClose(gf, forces, rel(forces), `forces ${at}`);
    assertClose(gz, zParts, rel(zParts), `z parts ${at}`);
    assertClose(gt, totals, rel(totals), `totals ${at}`);
    assertClose(gzt, zTotals, rel(zTotals), `z totals ${at}`);
    assertClose(gg, gains, { atol: 1e-6, rtol: 1e-6 }, `gains ${at}`);
    assertClose(gu, update, rel(update), `update ${at}`);
    assertClose(gy.subarray(0, 2 * count), y, rel(y), `y ${at}`);
    const { p: _, yTexture, ...views } = buffers;
    gpu.destroy([yTexture, ...Object.values(views).map((b) => b.buffer)]);
  }
}

gpuTestVariants(
  "tsne GPU iteration matches twin (forces, reduce, step)",
  (gpu) => compare(gpu, [[2, 1024], [9, 4], [70, 64], [130, 52], [701, 256], [1500, 1024]]),
);

gpuTest("tsne rejects a short buffer with a clear error", (gpu) => {
  const v = (n: number) => gpu.storage(n);
  const buffers = {
    p: tsneAffinityTexture(gpu, new Float32Array(16), 4),
    y: v(tsnePositionsLength(4) - 1),
    yTexture: tsnePositionsTexture(gpu, 4),
    forces: v(16),
    zParts: v(4),
    totals: v(16),
    zTotals: v(4),
    update: v(8),
    gains: v(8),
  };
  const shape = { count: 4, chunk: 8, exaggeration: 1, momentum: 0.5, lr: 1 };
  assert.throws(
    () => tsneIteration(gpu, buffers, shape),
    /tsne: y has 4095 elements, expected at least 4096/,
  );
  assert.throws(
    () => tsneAffinityTexture(gpu, new Float32Array(15), 4),
    /expected count × stride = 16/,
  );
  assert.throws(
    () => tsneIteration(gpu, buffers, { ...shape, chunk: 6 }),
    /chunk a multiple of 4, got 4 and 6/,
  );
});
