import { adamwUpdate } from "../src/ops/adamw.ts";
import * as twin from "../src/reference/adamw.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const n = 1 << 20, REPS = 10;
const opts = {
  length: n,
  lr: 1e-4,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-6,
  weightDecay: 0.2,
  step: 10,
  decayEnd: n - 1024,
  maxNorm: 1,
};
const rng = new Rng(0);
const p = Float64Array.from({ length: n }, () => rng.normal());
const g = Float64Array.from({ length: n }, () => rng.normal() * 1e-3);
const m = new Float64Array(n), v = new Float64Array(n), norm = Float64Array.from([2]);
const group = `adamw ${n} params`;
// Reads params, grads, m, v; writes params, m, v.
const bytes = 4 * 7 * n;

benchThroughput({
  name: "CPU twin (float64)",
  group,
  baseline: true,
  work: { bytes },
  fn: () => twin.adamwUpdate(p, g, m, v, norm, opts),
});

benchGpu({
  name: "GPU one dispatch",
  group,
  reps: REPS,
  work: { bytes },
  build: (gpu) => {
    const f = (a: Float64Array) => gpu.storage(Float32Array.from(a));
    return adamwUpdate(gpu, f(p), f(g), f(m), f(v), f(norm), opts);
  },
});
