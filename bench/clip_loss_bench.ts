import { clipLossBackward, clipLossForward } from "../src/ops/clip_loss.ts";
import * as twin from "../src/reference/clip_loss.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const rng = new Rng(0);

// Training batches (n pairs) and a larger one. Work per call, counting exp and log as one flop:
// the forward and the backward each take row and column log-sum-exps (2 · 4 flops per element);
// the backward adds 8 per element. Bytes: logits read by both passes of both, dlogits read+written.
for (const n of [256, 2048]) {
  const logits = Float64Array.from({ length: n * n }, () => rng.normal() * 10);
  const out = new Float64Array(1), dlogits = new Float64Array(n * n);
  const group = `clip loss n=${n} forward+backward`;
  const work = { flops: 24 * n * n, bytes: 4 * (7 * n * n) };
  benchThroughput({
    name: "CPU twin (float64)",
    group,
    baseline: true,
    work,
    fn: () => {
      twin.clipLossForward(logits, out, { n });
      twin.clipLossBackward(logits, dlogits, { n, weight: 1 });
    },
  });
  benchGpu({
    name: "GPU",
    group,
    reps: 1,
    work,
    build: (gpu) => {
      const gl = gpu.storage(Float32Array.from(logits)), gout = gpu.storage(1);
      const gd = gpu.storage(n * n);
      return [
        ...clipLossForward(gpu, gl, gout, { n }),
        ...clipLossBackward(gpu, gl, gd, { n, weight: 1 }),
      ];
    },
  });
}
