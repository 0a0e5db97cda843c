import { retrievalRank, topK } from "../src/ops/retrieval.ts";
import * as twin from "../src/reference/retrieval.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

// All 3,826 IU X-ray reports against themselves, as an evaluation does; top 10.
const n = 3826, k = 10;
const shape = { rows: n, cols: n, k };
const rng = new Rng(0);
const scores = Float64Array.from({ length: n * n }, () => Math.fround(rng.normal()));
const target = Uint32Array.from({ length: n }, (_, i) => i);
const rank = new Uint32Array(n), idx = new Uint32Array(n * k), val = new Float64Array(n * k);
const bytes = 4 * n * n; // the score matrix, read once

for (const op of ["rank", "top-k"] as const) {
  const group = `retrieval ${op} ${n}x${n}${op === "top-k" ? ` k=${k}` : ""}`;
  benchThroughput({
    name: "CPU twin",
    group,
    baseline: true,
    work: { bytes },
    fn: () =>
      op === "rank"
        ? twin.retrievalRank(scores, target, rank, shape)
        : twin.topK(scores, idx, val, shape),
  });
  benchGpu({
    name: "GPU",
    group,
    reps: 1,
    work: { bytes },
    build: (gpu) => {
      const gs = gpu.storage(Float32Array.from(scores));
      return op === "rank"
        ? retrievalRank(gpu, gs, gpu.storage(target), gpu.storage(n), shape)
        : topK(gpu, gs, gpu.storage(n * k), gpu.storage(n * k), shape);
    },
  });
}
