/**
 * Exact t-SNE on 512-d inputs (the BiomedCLIP embedding width) shaped like the normal/abnormal
 * pictures, 1,000 and 5,000 points, perplexity 30. Per group: iterations of the float64 CPU twin
 * (`src/reference/tsne.ts`, the baseline) against the same iterations on the GPU
 * (`kernels/tsne.wgsl`), both as iterations/s; then the whole GPU run as a user gets it (CPU
 * affinities + 1,000 GPU iterations + readback) and the affinities alone. The twin is O(N²) per
 * iteration: it runs 5 iterations per call at 5,000 points and 20 at 1,000 (per-iteration times
 * are what compare). One call takes seconds, so few calls each.
 */
import { inputDistances, jointProbabilities, tsne } from "../src/eval/tsne.ts";
import { tryGetGpu } from "../src/gpu/context.ts";
import {
  TSNE_CHUNK,
  tsneAffinityTexture,
  tsneChunks,
  tsneIteration,
  tsnePositionsLength,
  tsnePositionsTexture,
  tsneStride,
} from "../src/ops/tsne.ts";
import * as twin from "../src/reference/tsne.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const DIM = 512, ITERATIONS = 1000, GPU_REPS = 20;
const gpu = await tryGetGpu();

/** Two overlapping Gaussian classes in `DIM` dimensions. */
function embeddings(count: number): Float32Array {
  const rng = new Rng(count), x = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < DIM; k++) x[i * DIM + k] = rng.normal() + (i % 2 === k % 2 ? 0.3 : 0);
  }
  return x;
}

for (const count of [1000, 5000]) {
  const x = embeddings(count), group = `tsne ${count} points (512-d, perplexity 30)`;
  const dense = jointProbabilities(inputDistances(x, count, DIM, "euclidean"), count, 30);
  const stride = tsneStride(count), p = new Float64Array(count * stride);
  for (let i = 0; i < count; i++) p.set(dense.subarray(i * count, (i + 1) * count), i * stride);
  const shape = { count, chunk: TSNE_CHUNK, exaggeration: 1, momentum: 0.8, lr: count / 48 };
  const chunks = tsneChunks(shape), rng = new Rng(1);
  const y = Float64Array.from({ length: 2 * count }, () => rng.normal());
  const state = {
    forces: new Float64Array(4 * chunks * count),
    zParts: new Float64Array(chunks * count),
    totals: new Float64Array(4 * count),
    zTotals: new Float64Array(count),
    update: new Float64Array(2 * count),
    gains: new Float64Array(2 * count).fill(1),
  };
  const positions = new Float32Array(tsnePositionsLength(count));
  positions.set(y);
  const twinIterations = count > 2000 ? 5 : 20;
  benchThroughput({
    name: `CPU twin (float64), ${twinIterations} iterations`,
    group,
    baseline: true,
    work: { items: twinIterations, unit: "iterations" },
    n: 3,
    warmup: 0,
    fn: () => {
      const s = state;
      for (let it = 0; it < twinIterations; it++) {
        twin.tsneForces(p, y, s.forces, s.zParts, shape);
        twin.tsneReduce(s.forces, s.zParts, s.totals, s.zTotals, shape);
        twin.tsneStep(s.totals, s.zTotals, y, s.update, s.gains, shape);
      }
    },
  });
  benchGpu({
    name: "GPU iterations",
    group,
    reps: GPU_REPS,
    work: { items: 1, unit: "iterations" },
    build: (gpu) =>
      tsneIteration(gpu, {
        p: tsneAffinityTexture(gpu, Float32Array.from(p), count),
        y: gpu.storage(positions),
        yTexture: tsnePositionsTexture(gpu, count),
        forces: gpu.storage(state.forces.length),
        zParts: gpu.storage(state.zParts.length),
        totals: gpu.storage(state.totals.length),
        zTotals: gpu.storage(count),
        update: gpu.storage(2 * count),
        gains: gpu.storage(new Float32Array(2 * count).fill(1)),
      }, shape),
  });
  benchThroughput({
    name: `whole GPU run: affinities + ${ITERATIONS} iterations`,
    group,
    work: { items: ITERATIONS, unit: "iterations" },
    ignore: gpu ? false : "no WebGPU adapter",
    n: 1,
    warmup: 0,
    fn: async () => {
      await tsne(x, count, DIM, { iterations: ITERATIONS, gpu: gpu! });
    },
  });
  benchThroughput({
    name: "affinities only (CPU, float64)",
    group,
    work: {},
    n: 1,
    warmup: 0,
    fn: () => {
      jointProbabilities(inputDistances(x, count, DIM, "euclidean"), count, 30);
    },
  });
}
