import { similarityBackward, similarityForward } from "../src/ops/similarity.ts";
import * as twin from "../src/reference/similarity.ts";
import { Rng } from "../src/util/rng.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const rng = new Rng(0);
const randn = (n: number) => Float64Array.from({ length: n }, () => rng.normal() * 0.1);

// Training: one batch of B = 256 pairs, forward and backward (three GEMMs of 2·r·c·d flops).
{
  const rows = 256, cols = 256, dim = 256;
  const shape = { rows, cols, dim };
  const u = randn(rows * dim), v = randn(cols * dim), t = Float64Array.of(Math.log(1 / 0.07));
  const logits = new Float64Array(rows * cols), dl = randn(rows * cols);
  const du = new Float64Array(rows * dim),
    dv = new Float64Array(cols * dim),
    dt = new Float64Array(1);
  const group = `similarity ${rows}x${cols}x${dim} forward+backward`;
  const flops = 6 * rows * cols * dim;
  benchThroughput({
    name: "CPU twin (float64)",
    group,
    baseline: true,
    work: { flops },
    fn: () => {
      twin.similarityForward(u, v, t, logits, shape);
      twin.similarityBackward(u, v, t, dl, du, dv, dt, shape);
    },
  });
  benchGpu({
    name: "GPU",
    group,
    reps: 1,
    work: { flops },
    build: (gpu) => {
      const [gu, gv, gt, gdl] = [u, v, t, dl].map((a) => gpu.storage(Float32Array.from(a)));
      const gl = gpu.storage(rows * cols), gdu = gpu.storage(rows * dim);
      const gdv = gpu.storage(cols * dim), gdt = gpu.storage(1);
      return [
        ...similarityForward(gpu, gu, gv, gt, gl, shape),
        ...similarityBackward(gpu, gu, gv, gt, gdl, gdu, gdv, gdt, shape),
      ];
    },
  });
}

// Evaluation: the full query x gallery similarity matrix, forward only.
{
  const rows = 1024, cols = 1024, dim = 256;
  const shape = { rows, cols, dim };
  const u = randn(rows * dim), v = randn(cols * dim), t = Float64Array.of(Math.log(1 / 0.07));
  const logits = new Float64Array(rows * cols);
  const group = `similarity ${rows}x${cols}x${dim} forward`;
  const flops = 2 * rows * cols * dim;
  benchThroughput({
    name: "CPU twin (float64)",
    group,
    baseline: true,
    work: { flops },
    fn: () => twin.similarityForward(u, v, t, logits, shape),
  });
  benchGpu({
    name: "GPU",
    group,
    reps: 1,
    work: { flops },
    build: (gpu) => {
      const [gu, gv, gt] = [u, v, t].map((a) => gpu.storage(Float32Array.from(a)));
      return similarityForward(gpu, gu, gv, gt, gpu.storage(rows * cols), shape);
    },
  });
}
