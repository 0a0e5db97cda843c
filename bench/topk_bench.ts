// Exact top-10 retrieval over 1k to 1M indexed reports: synthetic projected reports (unit rows,
// 256-d, the default head's output), 8 image queries per call. GPU: the Retriever's path (the
// queries through the image head, similarity, exact top-k in shards of one storage binding whose
// lists merge on the GPU, the 10 hits read back). Baseline: a plain CPU scan of the same projected
// queries (dot products in float32 arrays, insertion into a sorted top 10). Calls are counted so
// the 1M group stays near a minute on a 2-core software adapter.

import { tryGetGpu } from "../src/gpu/context.ts";
import { initialParameters } from "../src/model/init.ts";
import { ParameterLayout } from "../src/model/parameters.ts";
import { Projector } from "../src/model/projector.ts";
import { Retriever } from "../src/retrieval/retriever.ts";
import { Rng } from "../src/util/rng.ts";
import { benchThroughput } from "./util/throughput.ts";

const DIM = 256, QUERIES = 8, K = 10;
const SIZES = [1_000, 10_000, 100_000, 1_000_000];

const rng = new Rng(0);

/** `count` random unit rows of DIM. */
function unitRows(count: number): Float32Array<ArrayBuffer> {
  const z = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) {
    let norm = 0;
    for (let d = 0; d < DIM; d++) {
      const v = rng.normal();
      z[i * DIM + d] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < DIM; d++) z[i * DIM + d] *= inv;
  }
  return z;
}

/** The K best rows of `z` for each query (indices), best first, ties by lower index. */
function cpuScan(z: Float32Array, n: number, queries: Float32Array): Int32Array {
  const out = new Int32Array(QUERIES * K);
  const best = new Float64Array(K), at = new Int32Array(K);
  for (let q = 0; q < QUERIES; q++) {
    best.fill(-Infinity);
    at.fill(-1);
    const qo = q * DIM;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0, o = i * DIM; d < DIM; d++) s += queries[qo + d] * z[o + d];
      if (s <= best[K - 1]) continue;
      let r = K - 1;
      for (; r > 0 && s > best[r - 1]; r--) {
        best[r] = best[r - 1];
        at[r] = at[r - 1];
      }
      best[r] = s;
      at[r] = i;
    }
    out.set(at, q * K);
  }
  return out;
}

const gpu = await tryGetGpu();
const head = { inDim: DIM, hidden: DIM, outDim: DIM, layers: 2, dropout: 0 };
const identity = { mean: new Float32Array(DIM), std: new Float32Array(DIM).fill(1) };
const params = initialParameters(new ParameterLayout(head), 1);
const projector = gpu && new Projector(gpu, head, params, { image: identity, text: identity });
const queries = Float32Array.from({ length: QUERIES * DIM }, () => rng.normal());
const projected = projector ? await projector.project("image", queries, QUERIES) : queries;

for (const n of SIZES) {
  const z = unitRows(n);
  const group = `top-${K} of ${n.toLocaleString("en")} reports, ${QUERIES} queries`;
  const calls = n >= 1_000_000 ? { n: 3, warmup: 1 } : n >= 100_000 ? { n: 10, warmup: 2 } : {};
  const work = { items: QUERIES, unit: "queries" };
  benchThroughput({
    name: "CPU scan",
    group,
    baseline: true,
    work,
    ...calls,
    fn: () => void cpuScan(z, n, projected),
  });
  if (!projector) {
    benchThroughput({ name: "GPU", group, work, fn: () => {}, ignore: "no WebGPU adapter" });
    continue;
  }
  const ids = Array.from({ length: n }, (_, i) => `r${i}`);
  const index = await Retriever.fromProjections(projector, "text", z, ids);
  // Both find the same best report for every query (top 1: ties below float32 are too rare).
  const gpuTop = (await index.queryBatch(queries, QUERIES, K)).map((hits) => hits[0].index);
  const cpuTop = cpuScan(z, n, projected).filter((_, i) => i % K === 0);
  if (gpuTop.some((i, q) => i !== cpuTop[q])) {
    throw new Error(`top-k bench ${n}: GPU best ${gpuTop}, CPU best ${[...cpuTop]}`);
  }
  benchThroughput({
    name: "GPU (Retriever.queryBatch)",
    group,
    work,
    ...calls,
    fn: async () => void await index.queryBatch(queries, QUERIES, K),
  });
}
