import { geluBackward, geluForward } from "../src/ops/gelu.ts";
import * as twin from "../src/reference/gelu.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const n = 1 << 20, REPS = 10;
const shape = { length: n };
const rng = new Rng(0);
const x = Float64Array.from({ length: n }, () => rng.normal());
const y = new Float64Array(n), dx = new Float64Array(n);
const group = `gelu ${n}`;
// forward reads x, writes y; backward reads x, dy, dx and writes dx.
const bytes = 4 * (2 * n + 4 * n);

benchThroughput({
  name: "CPU twin (float64) forward+backward",
  group,
  baseline: true,
  work: { bytes },
  fn: () => {
    twin.geluForward(x, y, shape);
    twin.geluBackward(x, y, dx, shape);
  },
});

benchGpu({
  name: "GPU forward+backward",
  group,
  reps: REPS,
  work: { bytes },
  build: (gpu) => {
    const gx = gpu.storage(Float32Array.from(x)), gy = gpu.storage(n), gdx = gpu.storage(n);
    return [...geluForward(gpu, gx, gy, shape), ...geluBackward(gpu, gx, gy, gdx, shape)];
  },
});
