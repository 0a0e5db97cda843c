import { bceBackward, bceForward } from "../src/ops/bce.ts";
import * as twin from "../src/reference/bce.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const rng = new Rng(0);

// n = 512 is a training batch (2B logits: mostly dispatch latency); 2^20 measures throughput.
// Work per element, counting exp and log as one flop: forward 9, backward 7. Bytes: logits and
// labels read by both, dlogits read and written.
for (const n of [512, 1 << 20]) {
  const logits = Float64Array.from({ length: n }, () => rng.normal() * 3);
  const labels = Int32Array.from({ length: n }, () => rng.int(2));
  const out = new Float64Array(1), dlogits = new Float64Array(n);
  const group = `bce n=${n} forward+backward`;
  const work = { flops: 16 * n, bytes: 4 * 6 * n };
  benchThroughput({
    name: "CPU twin (float64)",
    group,
    baseline: true,
    work,
    fn: () => {
      twin.bceForward(logits, labels, out, { n });
      twin.bceBackward(logits, labels, dlogits, { n, weight: 1 });
    },
  });
  benchGpu({
    name: "GPU",
    group,
    reps: 1,
    work,
    build: (gpu) => {
      const gl = gpu.storage(Float32Array.from(logits)), gy = gpu.storage(labels);
      const gout = gpu.storage(1), gd = gpu.storage(n);
      return [
        ...bceForward(gpu, gl, gy, gout, { n }),
        ...bceBackward(gpu, gl, gy, gd, { n, weight: 1 }),
      ];
    },
  });
}
