import { dropoutBackward, dropoutForward } from "../src/ops/dropout.ts";
import * as twin from "../src/reference/dropout.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const n = 1 << 20, REPS = 10;
const opts = { length: n, p: 0.1, seed: 1234 };
const rng = new Rng(0);
const x = Float64Array.from({ length: n }, () => rng.normal());
const y = new Float64Array(n), dx = new Float64Array(n);
const group = `dropout ${n} p=${opts.p}`;
// forward reads x, writes y; backward reads dy, dx and writes dx (the mask is recomputed).
const bytes = 4 * (2 * n + 3 * n);

benchThroughput({
  name: "CPU twin (float64) forward+backward",
  group,
  baseline: true,
  work: { bytes },
  fn: () => {
    twin.dropoutForward(x, y, opts);
    twin.dropoutBackward(y, dx, opts);
  },
});

benchGpu({
  name: "GPU forward+backward",
  group,
  reps: REPS,
  work: { bytes },
  build: (gpu) => {
    const gx = gpu.storage(Float32Array.from(x)), gy = gpu.storage(n), gdx = gpu.storage(n);
    return [...dropoutForward(gpu, gx, gy, opts), ...dropoutBackward(gpu, gy, gdx, opts)];
  },
});
