import { supconBackward, supconForward } from "../src/ops/supcon.ts";
import * as twin from "../src/reference/supcon.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const rng = new Rng(0);

// A training batch of B = 256 pairs: n = 2B = 512 embeddings of 256. The GEMMs dominate: the
// forward computes S = z zᵀ/τ (2 n² d flops), the backward S again and (dS + dSᵀ) z (6 n² d).
const n = 512, dim = 256, temperature = 0.1;
const shape = { n, dim, temperature };
const z = Float64Array.from({ length: n * dim }, () => rng.normal());
for (let i = 0; i < n; i++) {
  const row = z.subarray(i * dim, (i + 1) * dim);
  const norm = Math.hypot(...row);
  row.forEach((x, k) => row[k] = x / norm);
}
const labels = Int32Array.from({ length: n }, () => rng.int(2));
const out = new Float64Array(1), dz = new Float64Array(n * dim);

for (const pass of ["forward", "backward"] as const) {
  const group = `supcon n=${n} dim=${dim} ${pass}`;
  const work = { flops: (pass === "forward" ? 2 : 6) * n * n * dim };
  benchThroughput({
    name: "CPU twin (float64)",
    group,
    baseline: true,
    work,
    fn: pass === "forward"
      ? () => twin.supconForward(z, labels, out, shape)
      : () => twin.supconBackward(z, labels, dz, { ...shape, weight: 1 }),
  });
  benchGpu({
    name: "GPU",
    group,
    reps: 1,
    work,
    build: (gpu) => {
      const gz = gpu.storage(Float32Array.from(z)), gy = gpu.storage(labels);
      return pass === "forward"
        ? supconForward(gpu, gz, gy, gpu.storage(1), shape)
        : supconBackward(gpu, gz, gy, gpu.storage(n * dim), { ...shape, weight: 1 });
    },
  });
}
