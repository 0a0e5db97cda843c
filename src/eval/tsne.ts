/**
 * Exact t-SNE (van der Maaten & Hinton 2008) for the pictures of normal/abnormal clusters, up to
 * a few thousand points: perplexity-calibrated Gaussian affinities found by binary search,
 * symmetrized joint P, Student-t Q, gradient descent with early exaggeration (12 for the first
 * 250 iterations), momentum 0.5 then 0.8, per-coordinate gains as in the reference
 * implementation, and scikit-learn's "auto" learning rate `max(N / 12 / 4, 50)`.
 *
 * Why not an npm package: the candidates are unmaintained or do something else. `tsne-js`
 * (last release 2016, ndarray/cwise) and `@keckelt/tsne` (a port of karpathy's tsnejs: arrays of
 * arrays, a fixed learning rate, unseedable `Math.random` init) cannot reproduce a run by seed;
 * `@saehrimnir/druidjs` is maintained but exaggerates by 4 for 100 iterations with a fixed
 * learning rate and allocates two N×N matrices per iteration on its JavaScript path. This file is
 * the textbook algorithm on flat Float64Arrays, seeded by {@link Rng}, with no allocation inside
 * the iteration loop. With a GPU the iterations run in float32 WGSL kernels (`src/ops/tsne.ts`,
 * whose float64 twin is `src/reference/tsne.ts`), for test splits of several thousand points.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import {
  TSNE_CHUNK,
  tsneAffinityTexture,
  tsneChunks,
  tsneIteration,
  tsnePositionsLength,
  tsnePositionsTexture,
  tsneStride,
  tsneUniforms,
} from "../ops/tsne.ts";
import { descend } from "../reference/tsne.ts";
import { Rng } from "../util/rng.ts";

/** Distance between input points: squared euclidean, or cosine distance `1 − cos`. */
export type TsneMetric = "euclidean" | "cosine";

/** A progress report, sent every {@link TSNE_PROGRESS_EVERY} iterations and after the last. */
export interface TsneProgress {
  /** Iterations done. */
  iteration: number;
  /** Iterations of the whole run. */
  iterations: number;
  /** KL(P‖Q) of the current embedding (with the true, unexaggerated P). */
  kl: number;
}

/** Options of {@link tsne}. */
export interface TsneOptions {
  /**
   * Effective number of neighbours, 0 < perplexity < count (default 30, lowered to
   * (count − 1) / 3 for small sets, as openTSNE does).
   */
  perplexity?: number;
  /** Gradient-descent iterations (default 1000). */
  iterations?: number;
  /** Seed of the random initialization (default 0). */
  seed?: number;
  /** Input distance (default `euclidean`). */
  metric?: TsneMetric;
  /** Called with the KL divergence every {@link TSNE_PROGRESS_EVERY} iterations. */
  onProgress?: (progress: TsneProgress) => void;
  /**
   * Run the iterations on this GPU (`kernels/tsne.wgsl`, float32) and return a promise; the
   * affinities stay float64 on the CPU. The embedding matches the CPU path's in quality (KL, kNN
   * structure), not bit for bit: float32 rounding grows over the iterations.
   */
  gpu?: GpuContext;
}

/** Defaults of {@link TsneOptions}. */
export const TSNE_DEFAULTS = {
  perplexity: 30,
  iterations: 1000,
  seed: 0,
  metric: "euclidean" as TsneMetric,
};

/** Factor on P during the early-exaggeration phase. */
export const EARLY_EXAGGERATION = 12;
/** Iterations of early exaggeration (momentum 0.5); momentum is 0.8 afterwards. */
export const EXAGGERATION_ITERATIONS = 250;
/** Iterations between two {@link TsneProgress} reports. */
export const TSNE_PROGRESS_EVERY = 50;

/** Entropy tolerance (nats) and step limit of the perplexity binary search (as scikit-learn). */
const ENTROPY_TOL = 1e-5;
const SEARCH_STEPS = 100;
const INIT_STD = 1e-4;

/**
 * All pairwise input distances, a count×count matrix: squared euclidean distances, or cosine
 * distances `1 − cos(a, b)` (the distances scikit-learn's exact t-SNE calibrates on).
 * @example
 * ```ts
 * const d = inputDistances(new Float32Array([0, 0, 3, 4]), 2, 2, "euclidean"); // [0, 25, 25, 0]
 * ```
 */
export function inputDistances(
  points: Float32Array | Float64Array,
  count: number,
  dim: number,
  metric: TsneMetric,
): Float64Array {
  checkPoints(points, count, dim);
  if (metric !== "euclidean" && metric !== "cosine") {
    throw new Error(`t-SNE metric must be "euclidean" or "cosine", got ${JSON.stringify(metric)}`);
  }
  const x = Float64Array.from(points);
  const norms = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let k = i * dim; k < (i + 1) * dim; k++) s += x[k] * x[k];
    norms[i] = s;
    if (metric === "cosine") {
      if (!(s > 0)) throw new Error(`t-SNE cosine metric: point ${i} has norm 0`);
      const inv = 1 / Math.sqrt(s);
      for (let k = i * dim; k < (i + 1) * dim; k++) x[k] *= inv;
      norms[i] = 1;
    }
  }
  // Both metrics from dot products: |a|² + |b|² − 2a·b, or 1 − a·b of unit rows.
  const d = gram(x, count, dim);
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      const dot = d[i * count + j];
      const v = Math.max(0, metric === "cosine" ? 1 - dot : norms[i] + norms[j] - 2 * dot);
      d[i * count + j] = v;
      d[j * count + i] = v;
    }
  }
  return d;
}

/** Upper triangle (j > i) of x·xᵀ, four rows of j per pass so each x[i] value is loaded once. */
function gram(x: Float64Array, count: number, dim: number): Float64Array {
  const g = new Float64Array(count * count);
  for (let i = 0; i < count; i++) {
    const a = i * dim;
    let j = i + 1;
    for (; j + 3 < count; j += 4) {
      const b0 = j * dim, b1 = b0 + dim, b2 = b1 + dim, b3 = b2 + dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < dim; k++) {
        const v = x[a + k];
        s0 += v * x[b0 + k];
        s1 += v * x[b1 + k];
        s2 += v * x[b2 + k];
        s3 += v * x[b3 + k];
      }
      g[i * count + j] = s0;
      g[i * count + j + 1] = s1;
      g[i * count + j + 2] = s2;
      g[i * count + j + 3] = s3;
    }
    for (; j < count; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += x[a + k] * x[j * dim + k];
      g[i * count + j] = s;
    }
  }
  return g;
}

/**
 * Symmetrized joint probabilities `P = (P_{j|i} + P_{i|j}) / 2N` from a count×count distance
 * matrix, overwriting it. Each row's Gaussian precision is found by a bracketing binary search
 * (Newton steps taken when they stay inside the bracket, which cuts the steps several-fold) until
 * the row's entropy is `ln(perplexity)` within 1e-5 nats, as scikit-learn. Distances are shifted by
 * the row minimum first, which leaves P unchanged and avoids underflow.
 * @example
 * ```ts
 * const d = inputDistances(new Float32Array([0, 1, 5, 9]), 4, 1, "euclidean");
 * const p = jointProbabilities(d, 4, 2); // 4×4, symmetric, sums to 1
 * ```
 */
export function jointProbabilities(
  distances: Float64Array,
  count: number,
  perplexity: number,
): Float64Array {
  if (distances.length !== count * count) {
    throw new Error(
      `t-SNE distances: expected count² = ${count ** 2} values, got ${distances.length}`,
    );
  }
  if (!(perplexity > 0 && perplexity < count)) {
    throw new Error(
      `t-SNE perplexity must be in (0, count = ${count}), got ${perplexity}; ` +
        `a value near (count − 1) / 3 or less is usual`,
    );
  }
  const target = Math.log(perplexity);
  const p = distances, e = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const row = i * count;
    let dmin = Infinity;
    for (let j = 0; j < count; j++) if (j !== i && p[row + j] < dmin) dmin = p[row + j];
    // Row i holds distances shifted by their minimum until its P_{j|i} overwrite them.
    for (let j = 0; j < count; j++) p[row + j] = j === i ? 0 : p[row + j] - dmin;
    let beta = 1, lo = 0, hi = Infinity, sum = 0;
    for (let step = 0; step < SEARCH_STEPS; step++) {
      sum = 0;
      let m1 = 0, m2 = 0;
      for (let j = 0; j < count; j++) {
        const d = p[row + j], w = j === i ? 0 : Math.exp(-d * beta);
        e[j] = w;
        sum += w;
        m1 += d * w;
        m2 += d * d * w;
      }
      m1 /= sum;
      m2 /= sum;
      const diff = Math.log(sum) + beta * m1 - target; // entropy H(beta) − ln(perplexity)
      if (Math.abs(diff) <= ENTROPY_TOL) break;
      if (diff > 0) lo = beta;
      else hi = beta;
      // Newton on H (dH/dbeta = −beta·Var_P(d)) when it lands inside the bracket, else bisect
      // (doubling or halving while the bracket is open).
      const next = beta + diff / (beta * (m2 - m1 * m1));
      if (next > lo && next < hi) beta = next;
      else if (hi === Infinity) beta *= 2;
      else beta = lo === 0 ? beta / 2 : (lo + hi) / 2;
    }
    for (let j = 0; j < count; j++) p[row + j] = e[j] / sum;
  }
  const scale = 1 / (2 * count);
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      const v = (p[i * count + j] + p[j * count + i]) * scale;
      p[i * count + j] = v;
      p[j * count + i] = v;
    }
  }
  return p;
}

/**
 * Gradient of KL(P‖Q) with respect to the 2-D embedding `y` (count×2, interleaved), with P
 * multiplied by `exaggeration`: `4 Σ_j (e·p_ij − q_ij) w_ij (y_i − y_j)`, `w_ij = 1/(1+|y_i−y_j|²)`.
 * Writes `grad` (count×2); `scratch` (count×2) holds the repulsive sums. Allocates nothing.
 * @example
 * ```ts
 * const y = new Float64Array([0, 0, 1, 0]);
 * const p = new Float64Array([0, 0.5, 0.5, 0]);
 * const grad = new Float64Array(4);
 * klGradient(p, y, 2, 1, grad, new Float64Array(4));
 * ```
 */
export function klGradient(
  p: Float64Array,
  y: Float64Array,
  count: number,
  exaggeration: number,
  grad: Float64Array,
  scratch: Float64Array,
): void {
  // One pass over the pairs i < j (P and w are symmetric): attractive sums Σ p·w·Δ into grad,
  // repulsive sums Σ w²·Δ into scratch, Z = Σ w; combined once Z is known.
  grad.fill(0, 0, 2 * count);
  scratch.fill(0, 0, 2 * count);
  let z = 0;
  for (let i = 0; i < count; i++) {
    const xi = y[2 * i], yi = y[2 * i + 1], row = i * count;
    let ax = 0, ay = 0, rx = 0, ry = 0, zi = 0;
    for (let j = i + 1; j < count; j++) {
      const dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
      const w = 1 / (1 + dx * dx + dy * dy);
      const pw = p[row + j] * w, ww = w * w;
      const fx = pw * dx, fy = pw * dy, gx = ww * dx, gy = ww * dy;
      ax += fx;
      ay += fy;
      rx += gx;
      ry += gy;
      zi += w;
      grad[2 * j] -= fx;
      grad[2 * j + 1] -= fy;
      scratch[2 * j] -= gx;
      scratch[2 * j + 1] -= gy;
    }
    grad[2 * i] += ax;
    grad[2 * i + 1] += ay;
    scratch[2 * i] += rx;
    scratch[2 * i + 1] += ry;
    z += zi;
  }
  const invZ = 1 / (2 * z);
  for (let k = 0; k < 2 * count; k++) grad[k] = 4 * (exaggeration * grad[k] - scratch[k] * invZ);
}

/**
 * KL(P‖Q) = Σ p_ij ln(p_ij / q_ij) of a 2-D embedding `y` (count×2, interleaved).
 * @example
 * ```ts
 * klDivergence(new Float64Array([0, 0.5, 0.5, 0]), new Float64Array([0, 0, 1, 0]), 2); // 0
 * ```
 */
export function klDivergence(p: Float64Array, y: Float64Array, count: number): number {
  let z = 0, cross = 0;
  for (let i = 0; i < count; i++) {
    const xi = y[2 * i], yi = y[2 * i + 1], row = i * count;
    for (let j = i + 1; j < count; j++) {
      const dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
      const w = 1 / (1 + dx * dx + dy * dy);
      z += w;
      const pij = p[row + j];
      if (pij > 0) cross += pij * Math.log(pij / w);
    }
  }
  // Σ_{i≠j} p ln(p / (w / Z)) = Σ p ln(p / w) + ln Z (Σ p = 1), both halves alike.
  return 2 * cross + Math.log(2 * z);
}

/**
 * Embeds `count` points of `dim` values (row-major) in 2-D with exact t-SNE. Returns count×2
 * coordinates, interleaved `[x0, y0, x1, y1, …]`. The same inputs and seed give the same bits.
 * One core does 2,000 points of 512 values × 1,000 iterations in about 16 s of CPU time (the
 * iterations are O(N²) each). With `opts.gpu` the iterations run on the GPU and the result comes
 * as a promise: 5,000 points in under a minute on a 2-core software adapter, a fifth of it the
 * float64 affinities on the CPU (see `bench/tsne_bench.ts`).
 * @example
 * ```ts
 * const points = new Float32Array(200 * 8).map(() => Math.random());
 * const xy = tsne(points, 200, 8, { perplexity: 20, iterations: 500, seed: 1 });
 * ```
 */
export function tsne(
  points: Float32Array | Float64Array,
  count: number,
  dim: number,
  opts: TsneOptions & { gpu: GpuContext },
): Promise<Float64Array>;
export function tsne(
  points: Float32Array | Float64Array,
  count: number,
  dim: number,
  opts?: TsneOptions,
): Float64Array;
export function tsne(
  points: Float32Array | Float64Array,
  count: number,
  dim: number,
  opts: TsneOptions = {},
): Float64Array | Promise<Float64Array> {
  const { iterations, seed, metric } = { ...TSNE_DEFAULTS, ...opts };
  const perplexity = opts.perplexity ?? Math.min(TSNE_DEFAULTS.perplexity, (count - 1) / 3);
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new Error(`t-SNE iterations must be an integer >= 0, got ${iterations}`);
  }
  const p = jointProbabilities(inputDistances(points, count, dim, metric), count, perplexity);
  const rng = new Rng(seed);
  const y = new Float64Array(2 * count);
  for (let k = 0; k < y.length; k++) y[k] = rng.normal() * INIT_STD;
  const lr = Math.max(count / EARLY_EXAGGERATION / 4, 50);
  if (opts.gpu) return descendOnGpu(opts.gpu, p, y, count, iterations, lr, opts.onProgress);
  const update = new Float64Array(2 * count), gains = new Float64Array(2 * count).fill(1);
  const grad = new Float64Array(2 * count), scratch = new Float64Array(2 * count);
  for (let it = 0; it < iterations; it++) {
    const early = it < EXAGGERATION_ITERATIONS;
    const momentum = early ? 0.5 : 0.8;
    klGradient(p, y, count, early ? EARLY_EXAGGERATION : 1, grad, scratch);
    descend(grad, y, update, gains, { count, momentum, lr });
    const done = it + 1;
    if (opts.onProgress && (done % TSNE_PROGRESS_EVERY === 0 || done === iterations)) {
      opts.onProgress({ iteration: done, iterations, kl: klDivergence(p, y, count) });
    }
  }
  return y;
}

/**
 * The gradient descent of {@link tsne} on the GPU: everything uploaded once, iterations submitted
 * {@link TSNE_PROGRESS_EVERY} at a time, the embedding read back only for a progress report and
 * at the end.
 */
async function descendOnGpu(
  gpu: GpuContext,
  p: Float64Array,
  y0: Float64Array,
  count: number,
  iterations: number,
  lr: number,
  onProgress?: (progress: TsneProgress) => void,
): Promise<Float64Array> {
  const early = { count, chunk: TSNE_CHUNK, exaggeration: EARLY_EXAGGERATION, momentum: 0.5, lr };
  const late = { ...early, exaggeration: 1, momentum: 0.8 };
  const chunks = tsneChunks(early), stride = tsneStride(count);
  const padded = new Float32Array(count * stride);
  for (let i = 0; i < count; i++) padded.set(p.subarray(i * count, (i + 1) * count), i * stride);
  const positions = new Float32Array(tsnePositionsLength(count));
  positions.set(y0);
  const { value: commands, resources } = gpu.collect(() => {
    const buffers = {
      p: tsneAffinityTexture(gpu, padded, count),
      y: gpu.storage(positions, "tsne y"),
      yTexture: tsnePositionsTexture(gpu, count),
      forces: gpu.storage(4 * chunks * count),
      zParts: gpu.storage(chunks * count),
      totals: gpu.storage(4 * count),
      zTotals: gpu.storage(count),
      update: gpu.storage(2 * count),
      gains: gpu.storage(new Float32Array(2 * count).fill(1)),
    };
    return { buffers, iteration: tsneIteration(gpu, buffers, early) };
  });
  const { buffers, iteration } = commands;
  const embedding = async () =>
    Float64Array.from((await gpu.read(buffers.y)).subarray(0, 2 * count));
  try {
    let done = 0;
    while (done < iterations) {
      // Batches end where the exaggeration stops and at every progress report.
      const phaseEnd = done < EXAGGERATION_ITERATIONS ? EXAGGERATION_ITERATIONS : iterations;
      const end = Math.min(
        phaseEnd,
        iterations,
        (Math.floor(done / TSNE_PROGRESS_EVERY) + 1) *
          TSNE_PROGRESS_EVERY,
      );
      if (done === EXAGGERATION_ITERATIONS) gpu.writeUniforms(iteration, tsneUniforms(late));
      await gpu.run(Array.from({ length: end - done }, () => iteration).flat());
      done = end;
      if (onProgress && (done % TSNE_PROGRESS_EVERY === 0 || done === iterations)) {
        onProgress({ iteration: done, iterations, kl: klDivergence(p, await embedding(), count) });
      }
    }
    return await embedding();
  } finally {
    gpu.recycle(iteration);
    gpu.destroy(resources);
  }
}

function checkPoints(points: ArrayLike<number>, count: number, dim: number): void {
  if (!Number.isInteger(count) || count < 2 || !Number.isInteger(dim) || dim < 1) {
    throw new Error(`t-SNE needs count >= 2 and dim >= 1 (integers), got ${count} and ${dim}`);
  }
  if (points.length !== count * dim) {
    throw new Error(
      `t-SNE points: expected count × dim = ${count} × ${dim} = ${count * dim} values, ` +
        `got ${points.length}`,
    );
  }
  for (let k = 0; k < points.length; k++) {
    if (!Number.isFinite(points[k])) {
      throw new Error(
        `t-SNE points: value ${points[k]} at point ${Math.floor(k / dim)}, column ${k % dim}`,
      );
    }
  }
}
