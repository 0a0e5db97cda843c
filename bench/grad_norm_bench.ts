import { gradNorm } from "../src/ops/grad_norm.ts";
import * as twin from "../src/reference/grad_norm.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const n = 1 << 22, REPS = 10;
const rng = new Rng(0);
const x = Float64Array.from({ length: n }, () => rng.normal());
const group = `grad norm ${n}`;
const bytes = 4 * n;

benchThroughput({
  name: "CPU twin (float64)",
  group,
  baseline: true,
  work: { bytes },
  fn: () => twin.gradNorm(x, new Float64Array(1), { length: n }),
});

benchGpu({
  name: "GPU two passes",
  group,
  reps: REPS,
  work: { bytes },
  build: (gpu) => {
    const gx = gpu.storage(Float32Array.from(x)), out = gpu.storage(1);
    return gradNorm(gpu, gx, out, { length: n });
  },
});
