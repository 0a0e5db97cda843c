import { deepEqual } from "node:assert/strict";
import type { Command, GpuContext } from "../src/gpu/context.ts";
import type { GpuView } from "../src/gpu/kernel.ts";
import { dropoutBackward, dropoutForward } from "../src/ops/dropout.ts";
import { geluBackward, geluForward } from "../src/ops/gelu.ts";
import { f32, gpuTest, randn, Rng } from "./util/check.ts";

// Elementwise ops read and write whole quads of 4 elements (src/ops/shapes.ts quadView): on views
// of 5 elements at the start of 12-element buffers, elements 5.. must keep their values and the
// output's first 5 must change. (adamw_test.ts checks the same for AdamW.)
const LENGTH = 5, SIZE = 12;
const ops: Record<string, [number, (gpu: GpuContext, v: GpuView[]) => Command[]]> = {
  gelu_forward: [2, (gpu, [x, y]) => geluForward(gpu, x, y, { length: LENGTH })],
  gelu_backward: [3, (gpu, [x, dy, dx]) => geluBackward(gpu, x, dy, dx, { length: LENGTH })],
  dropout_forward: [
    2,
    (gpu, [x, y]) => dropoutForward(gpu, x, y, { length: LENGTH, p: 0, seed: 1 }),
  ],
  dropout_backward: [
    2,
    (gpu, [dy, dx]) => dropoutBackward(gpu, dy, dx, { length: LENGTH, p: 0, seed: 1 }),
  ],
};

gpuTest(
  "elementwise ops leave the elements past their length alone (the last quad's tail)",
  async (gpu) => {
    const rng = new Rng(11);
    for (const [name, [buffers, op]] of Object.entries(ops)) {
      const host = Array.from({ length: buffers }, () => f32(randn(rng, SIZE)));
      const whole = host.map((a) => gpu.storage(a));
      await gpu.run(op(gpu, whole.map((w) => ({ ...w, length: LENGTH }))));
      const after = await gpu.readMany(whole);
      after.forEach((a, i) =>
        deepEqual(
          [...a.slice(LENGTH)],
          [...host[i].slice(LENGTH)],
          `${name} buffer ${i} past the length`,
        )
      );
      const out = after.length - 1;
      if (after[out].slice(0, LENGTH).every((v, j) => v === host[out][j])) {
        throw new Error(`${name}: the output's first ${LENGTH} elements did not change`);
      }
    }
  },
);
