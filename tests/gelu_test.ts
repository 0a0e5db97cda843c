import { geluBackward, geluForward } from "../src/ops/gelu.ts";
import * as twin from "../src/reference/gelu.ts";
import { erf, erfc } from "../src/util/erf.ts";
import { assertClose, f32, f64, gpuTest, numericGradient, randn, Rng } from "./util/check.ts";

/** Written by tests/oracle/gelu_oracle.py (PyTorch 1.13, float64). */
const oracle: { x: number[]; gelu: number[]; dgelu: number[]; erf: number[]; erfc: number[] } = JSON
  .parse(Deno.readTextFileSync(new URL("./fixtures/gelu_points.json", import.meta.url)));

function twinGelu(x: Float64Array): { y: Float64Array; grad: Float64Array } {
  const shape = { length: x.length };
  const y = new Float64Array(x.length), grad = new Float64Array(x.length);
  twin.geluForward(x, y, shape);
  twin.geluBackward(x, new Float64Array(x.length).fill(1), grad, shape);
  return { y, grad };
}

Deno.test("erf and erfc (float64) match PyTorch, tails included", () => {
  const tol = { atol: 0, rtol: 1e-14 };
  assertClose(oracle.x.map(erf), oracle.erf, tol, "erf");
  assertClose(oracle.x.map(erfc), oracle.erfc, tol, "erfc");
});

Deno.test("gelu twin matches PyTorch nn.GELU() and its autograd", () => {
  // PyTorch evaluates 1 + erf(x/√2) literally, which cancels in the left tail (it returns 0
  // for gelu(-9), not -1.0e-18), so the comparison is absolute there.
  const { y, grad } = twinGelu(f64(oracle.x));
  assertClose(y, oracle.gelu, { atol: 1e-14, rtol: 1e-14 }, "gelu");
  assertClose(grad, oracle.dgelu, { atol: 1e-14, rtol: 1e-14 }, "dgelu");
});

Deno.test("gelu twin: backward matches finite differences", () => {
  const x = randn(new Rng(1), 33, 2);
  const w = randn(new Rng(2), 33); // loss = sum(w * y)
  const shape = { length: x.length };
  const loss = (xv: Float64Array) => {
    const y = new Float64Array(xv.length);
    twin.geluForward(xv, y, shape);
    return y.reduce((s, v, i) => s + v * w[i], 0);
  };
  const dx = new Float64Array(x.length);
  twin.geluBackward(x, w, dx, shape);
  assertClose(dx, numericGradient(loss, x), { atol: 1e-8, rtol: 1e-7 }, "dx");
});

gpuTest("gelu GPU matches PyTorch on points from -12 to 12", async (gpu) => {
  const n = oracle.x.length;
  const gx = gpu.storage(f32(oracle.x)), gy = gpu.storage(n), gdx = gpu.storage(n);
  const ones = gpu.storage(new Float32Array(n).fill(1));
  await gpu.run([
    ...geluForward(gpu, gx, gy, { length: n }),
    ...geluBackward(gpu, gx, ones, gdx, { length: n }),
  ]);
  const [y, dx] = await gpu.readMany([gy, gdx]);
  // The oracle's x are float32-exact apart from 1e-8 and 1e-3, whose float32 rounding moves
  // gelu by far less than the tolerance.
  assertClose(y, oracle.gelu, { atol: 1e-6, rtol: 1e-6 }, "gelu");
  assertClose(dx, oracle.dgelu, { atol: 1e-6, rtol: 1e-6 }, "dgelu");
});

gpuTest("gelu GPU matches twin (forward, accumulating backward)", async (gpu) => {
  const rng = new Rng(3);
  for (const n of [1, 7, 33, 257, 1000, 100_000]) {
    const shape = { length: n };
    const x = f64(f32(randn(rng, n, 3))), dy = f64(f32(randn(rng, n)));
    const dx0 = f64(f32(randn(rng, n)));
    const y = new Float64Array(n), dx = dx0.slice();
    twin.geluForward(x, y, shape);
    twin.geluBackward(x, dy, dx, shape);

    const gx = gpu.storage(f32(x)), gy = gpu.storage(n);
    const gdy = gpu.storage(f32(dy)), gdx = gpu.storage(f32(dx0));
    await gpu.run([...geluForward(gpu, gx, gy, shape), ...geluBackward(gpu, gx, gdy, gdx, shape)]);
    const [ry, rdx] = await gpu.readMany([gy, gdx]);
    assertClose(ry, y, { atol: 1e-6, rtol: 1e-6 }, `y n=${n}`);
    assertClose(rdx, dx, { atol: 2e-6, rtol: 1e-6 }, `dx n=${n}`);
  }
});

gpuTest("gelu GPU on 2^24 + 1000 elements (2-D grid), checked on a sample", async (gpu) => {
  const n = (1 << 24) + 1000, shape = { length: n };
  const rng = new Rng(4);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (rng.uniform() - 0.5) * 12;
  const gx = gpu.storage(x), gy = gpu.storage(n), gdx = gpu.storage(n);
  const gdy = gpu.storage(new Float32Array(n).fill(0.5));
  await gpu.run([...geluForward(gpu, gx, gy, shape), ...geluBackward(gpu, gx, gdy, gdx, shape)]);
  const [y, dx] = await gpu.readMany([gy, gdx]);
  const sample = [...Array.from({ length: 4096 }, (_, k) => k * 4096), ...Array(1000).keys()]
    .map((k) => n - 1 - k);
  const expected = twinGelu(f64(sample.map((i) => x[i])));
  assertClose(sample.map((i) => y[i]), expected.y, { atol: 1e-6, rtol: 1e-6 }, "y sample");
  const half = expected.grad.map((g) => 0.5 * g);
  assertClose(sample.map((i) => dx[i]), half, { atol: 1e-6, rtol: 1e-6 }, "dx sample");
});

gpuTest("gelu rejects a short buffer with a clear error", (gpu) => {
  const x = gpu.storage(10), y = gpu.storage(12);
  try {
    geluForward(gpu, x, y, { length: 12 });
    throw new Error("no error");
  } catch (e) {
    if (!String(e).includes("gelu_forward: x has 10 elements, expected at least 12")) throw e;
  }
});
