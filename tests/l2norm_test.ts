import { l2normBackward, l2normForward } from "../src/ops/l2norm.ts";
import * as twin from "../src/reference/l2norm.ts";
import type { GpuContext } from "../src/gpu/context.ts";
import {
  assertClose,
  f32,
  f64,
  gpuTest,
  gpuTestVariants,
  numericGradient,
  randn,
  Rng,
} from "./util/check.ts";

const EPS = 1e-12;

Deno.test("l2norm twin: backward matches finite differences", () => {
  const rng = new Rng(1);
  for (const [rows, dim] of [[1, 1], [3, 7], [2, 33]]) {
    const shape = { rows, dim, eps: EPS };
    const x = randn(rng, rows * dim);
    const w = randn(rng, rows * dim); // loss = sum(w * y)
    const loss = (xv: Float64Array) => {
      const y = new Float64Array(rows * dim);
      twin.l2normForward(xv, y, new Float64Array(rows), shape);
      return y.reduce((s, v, i) => s + v * w[i], 0);
    };
    const y = new Float64Array(rows * dim), norm = new Float64Array(rows);
    twin.l2normForward(x, y, norm, shape);
    const dx = new Float64Array(rows * dim);
    twin.l2normBackward(y, norm, w, dx, shape);
    assertClose(dx, numericGradient(loss, x), { atol: 1e-7, rtol: 1e-6 }, `dx ${rows}x${dim}`);
  }
});

/** GPU vs twin over edge shapes: forward, and backward accumulating onto nonzero gradients. */
async function compare(gpu: GpuContext, shapes: number[][]) {
  const rng = new Rng(2);
  for (const [rows, dim] of shapes) {
    const shape = { rows, dim, eps: EPS };
    const n = rows * dim;
    const x = f64(f32(randn(rng, n)));
    const dy = f64(f32(randn(rng, n)));
    const dx0 = f64(f32(randn(rng, n)));
    const y = new Float64Array(n), norm = new Float64Array(rows), dx = dx0.slice();
    twin.l2normForward(x, y, norm, shape);
    twin.l2normBackward(y, norm, dy, dx, shape);

    const gx = gpu.storage(f32(x)), gy = gpu.storage(n), gn = gpu.storage(rows);
    const gdy = gpu.storage(f32(dy)), gdx = gpu.storage(f32(dx0));
    await gpu.run([
      ...l2normForward(gpu, gx, gy, gn, shape),
      ...l2normBackward(gpu, gy, gn, gdy, gdx, shape),
    ]);
    const [ry, rn, rdx] = await gpu.readMany([gy, gn, gdx]);
    const tol = { atol: 1e-5, rtol: 1e-5 };
    assertClose(ry, y, tol, `y ${rows}x${dim}`);
    assertClose(rn, norm, { atol: 1e-5, rtol: 1e-5 }, `norm ${rows}x${dim}`);
    assertClose(rdx, dx, { atol: 1e-4, rtol: 1e-4 }, `dx ${rows}x${dim}`);
  }
}

gpuTestVariants(
  "l2norm GPU matches twin (forward, accumulating backward)",
  (gpu) => compare(gpu, [[1, 1], [7, 33], [33, 257], [1000, 512], [5, 1000]]),
);

gpuTest("l2norm rejects a short buffer with a clear error", (gpu) => {
  const x = gpu.storage(10), y = gpu.storage(12), n = gpu.storage(2);
  try {
    l2normForward(gpu, x, y, n, { rows: 2, dim: 6, eps: EPS });
    throw new Error("no error");
  } catch (e) {
    if (!String(e).includes("l2norm_forward: x has 10 elements, expected at least 12")) throw e;
  }
});
