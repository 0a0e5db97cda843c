import { similarityBackward, similarityForward } from "../src/ops/similarity.ts";
import * as twin from "../src/reference/similarity.ts";
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

Deno.test("similarity twin: backward matches finite differences (below and above the cap)", () => {
  const rng = new Rng(1);
  for (
    const [rows, cols, dim, t0] of [[1, 1, 1, 0.3], [3, 5, 7, Math.log(1 / 0.07)], [4, 2, 3, 5]]
  ) {
    const shape = { rows, cols, dim };
    const u = randn(rng, rows * dim), v = randn(rng, cols * dim), t = new Float64Array([t0]);
    const w = randn(rng, rows * cols); // loss = sum(w * logits)
    const loss = (uu: Float64Array, vv: Float64Array, tt: Float64Array) => {
      const logits = new Float64Array(rows * cols);
      twin.similarityForward(uu, vv, tt, logits, shape);
      return logits.reduce((s, x, i) => s + x * w[i], 0);
    };
    const du = new Float64Array(rows * dim), dv = new Float64Array(cols * dim);
    const dt = new Float64Array(1);
    twin.similarityBackward(u, v, t, w, du, dv, dt, shape);
    const tol = { atol: 1e-6, rtol: 1e-6 };
    const label = `${rows}x${cols}x${dim} t=${t0.toFixed(2)}`;
    assertClose(du, numericGradient((x) => loss(x, v, t), u), tol, `du ${label}`);
    assertClose(dv, numericGradient((x) => loss(u, x, t), v), tol, `dv ${label}`);
    // Above the cap (t = 5, exp(5) > 100) the scale is constant and dt is exactly 0.
    assertClose(dt, numericGradient((x) => loss(u, v, x), t), tol, `dt ${label}`);
  }
});

gpuTestVariants("similarity GPU matches twin (forward, accumulating backward)", async (gpu) => {
  const rng = new Rng(2);
  const cases = [
    [1, 1, 1, 0.5],
    [7, 33, 5, Math.log(1 / 0.07)],
    [33, 7, 257, 1.2],
    [257, 33, 64, 2.0],
    [300, 257, 256, 2.6],
    [9, 12, 16, 5], // past the cap: dt gets nothing
  ];
  for (const [rows, cols, dim, t0] of cases) {
    const shape = { rows, cols, dim };
    const u = f64(f32(randn(rng, rows * dim, 0.2))), v = f64(f32(randn(rng, cols * dim, 0.2)));
    const t = f64(f32([t0]));
    const dl = f64(f32(randn(rng, rows * cols)));
    const du0 = f64(f32(randn(rng, rows * dim))), dv0 = f64(f32(randn(rng, cols * dim)));
    const dt0 = f64(f32([0.25]));
    const logits = new Float64Array(rows * cols);
    const du = du0.slice(), dv = dv0.slice(), dt = dt0.slice();
    twin.similarityForward(u, v, t, logits, shape);
    twin.similarityBackward(u, v, t, dl, du, dv, dt, shape);

    const [gu, gv, gt, gdl] = [u, v, t, dl].map((a) => gpu.storage(f32(a)));
    const [gdu, gdv, gdt] = [du0, dv0, dt0].map((a) => gpu.storage(f32(a)));
    const glogits = gpu.storage(rows * cols);
    await gpu.run([
      ...similarityForward(gpu, gu, gv, gt, glogits, shape),
      ...similarityBackward(gpu, gu, gv, gt, gdl, gdu, gdv, gdt, shape),
    ]);
    const [rl, rdu, rdv, rdt] = await gpu.readMany([glogits, gdu, gdv, gdt]);
    // float32 sums of `dim` (or rows, cols) products: errors grow like sqrt(K) * 1e-7 * scale.
    const label = `${rows}x${cols}x${dim}`;
    assertClose(rl, logits, { atol: 1e-4, rtol: 1e-4 }, `logits ${label}`);
    assertClose(rdu, du, { atol: 1e-4, rtol: 1e-4 }, `du ${label}`);
    assertClose(rdv, dv, { atol: 1e-4, rtol: 1e-4 }, `dv ${label}`);
    assertClose(rdt, dt, { atol: 1e-3, rtol: 1e-4 }, `dt ${label}`);
  }
});

gpuTest("similarity backward with du and dv on one view adds both products", async (gpu) => {
  const rng = new Rng(3);
  const n = 13, dim = 10, shape = { rows: n, cols: n, dim };
  const z = f64(f32(randn(rng, n * dim))), t = f64(f32([0.7])), dl = f64(f32(randn(rng, n * n)));
  const dz = new Float64Array(n * dim), dt = new Float64Array(1);
  twin.similarityBackward(z, z, t, dl, dz, dz, dt, shape);
  const gz = gpu.storage(f32(z)), gdz = gpu.storage(n * dim);
  const ds = similarityBackward(
    gpu,
    gz,
    gz,
    gpu.storage(f32(t)),
    gpu.storage(f32(dl)),
    gdz,
    gdz,
    gpu.storage(1),
    shape,
  );
  await gpu.run(ds);
  assertClose(await gpu.read(gdz), dz, { atol: 1e-4, rtol: 1e-4 }, "dz");
});

gpuTest("similarity rejects a short buffer with a clear error", (gpu) => {
  const u = gpu.storage(12), v = gpu.storage(10), t = gpu.storage(1), logits = gpu.storage(6);
  try {
    similarityForward(gpu, u, v, t, logits, { rows: 2, cols: 3, dim: 6 });
    throw new Error("no error");
  } catch (e) {
    if (!String(e).includes("similarity_forward: v has 10 elements, expected at least 18")) throw e;
  }
});
