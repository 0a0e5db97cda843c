import { l2normBackward, l2normForward } from "../src/ops/l2norm.ts";
import * as twin from "../src/reference/l2norm.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const rows = 4096, dim = 512, n = rows * dim, REPS = 20;
const shape = { rows, dim, eps: 1e-12 };
const rng = new Rng(0);
const x = Float64Array.from({ length: n }, () => rng.normal());
const y = new Float64Array(n), norm = new Float64Array(rows), dx = new Float64Array(n);
const group = `l2norm ${rows}x${dim}`;
// forward reads x, writes y; backward reads y, dy, writes dx (read + write).
const bytes = 4 * (2 * n + 4 * n);

benchThroughput({
  name: "CPU twin (float64) forward+backward",
  group,
  baseline: true,
  work: { bytes },
  fn: () => {
    twin.l2normForward(x, y, norm, shape);
    twin.l2normBackward(y, norm, x, dx, shape);
  },
});

benchGpu({
  name: "GPU forward+backward",
  group,
  reps: REPS,
  work: { bytes },
  build: (gpu) => {
    const gx = gpu.storage(Float32Array.from(x)), gy = gpu.storage(n), gn = gpu.storage(rows);
    const gdx = gpu.storage(n);
    return [
      ...l2normForward(gpu, gx, gy, gn, shape),
      ...l2normBackward(gpu, gy, gn, gx, gdx, shape),
    ];
  },
});
