import { supconBackward, supconForward, SupconLoss } from "../src/ops/supcon.ts";
import * as twin from "../src/reference/supcon.ts";
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

/** `n` random rows of length `dim`, L2-normalized (as the loss sees them in training). */
function unitRows(rng: Rng, n: number, dim: number): Float64Array {
  const z = randn(rng, n * dim);
  for (let i = 0; i < n; i++) {
    const norm = Math.hypot(...z.subarray(i * dim, (i + 1) * dim));
    for (let k = 0; k < dim; k++) z[i * dim + k] /= norm;
  }
  return z;
}

function randomLabels(rng: Rng, n: number, classes: number): Int32Array<ArrayBuffer> {
  return Int32Array.from({ length: n }, () => rng.int(classes));
}

Deno.test("supcon twin: backward matches finite differences", () => {
  const rng = new Rng(1);
  for (const [n, dim, classes, temperature] of [[2, 3, 1, 0.5], [6, 4, 2, 0.1], [9, 5, 4, 0.3]]) {
    const shape = { n, dim, temperature };
    const z = randn(rng, n * dim, 0.5), labels = randomLabels(rng, n, classes), weight = 0.6;
    const loss = (x: Float64Array) => {
      const out = new Float64Array(1);
      twin.supconForward(x, labels, out, shape);
      return weight * out[0];
    };
    const dz = new Float64Array(n * dim);
    twin.supconBackward(z, labels, dz, { ...shape, weight });
    assertClose(dz, numericGradient(loss, z), { atol: 1e-7, rtol: 1e-6 }, `dz n=${n}`);
  }
});

Deno.test("supcon twin: matches the definition on a hand-sized case", () => {
  // z = e0, e0, e1 at τ = 1, labels 0, 0, 1: only anchors 0 and 1 have a positive (each other).
  const z = new Float64Array([1, 0, 1, 0, 0, 1]), out = new Float64Array(1);
  twin.supconForward(z, new Int32Array([0, 0, 1]), out, { n: 3, dim: 2, temperature: 1 });
  // ℓ_0 = ℓ_1 = -log(e^1 / (e^1 + e^0))
  assertClose(out, [Math.log(1 + Math.exp(-1))], { atol: 1e-15, rtol: 1e-12 }, "loss");
  twin.supconForward(z, new Int32Array([0, 1, 2]), out, { n: 3, dim: 2, temperature: 1 });
  assertClose(out, [0], { atol: 0, rtol: 0 }, "no positives");
});

/**
 * A random case (f32-representable unit rows, labels, an upstream dz) and the twin's loss and
 * accumulated dz for it.
 */
function twinCase(
  rng: Rng,
  [n, dim, classes, temperature]: number[],
  weight: number,
) {
  const shape = { n, dim, temperature };
  const z = f64(f32(unitRows(rng, n, dim))), labels = randomLabels(rng, n, classes);
  const dz0 = f64(f32(randn(rng, n * dim, 0.1)));
  const out = new Float64Array(1), dz = dz0.slice();
  twin.supconForward(z, labels, out, shape);
  twin.supconBackward(z, labels, dz, { ...shape, weight });
  return { shape, z, labels, dz0, out, dz };
}

gpuTestVariants("supcon GPU matches twin (forward, accumulating backward)", async (gpu) => {
  const rng = new Rng(2);
  const cases = [
    [1, 4, 1, 0.1], // one embedding: no positives
    [7, 5, 2, 0.1],
    [33, 64, 3, 0.07],
    [40, 8, 1000, 0.2], // mostly distinct labels: few anchors
    [257, 33, 2, 0.1],
    [300, 256, 2, 0.05],
  ];
  const weight = 0.5;
  for (const c of cases) {
    const { shape, z, labels, dz0, out, dz } = twinCase(rng, c, weight);
    const [n, dim, classes] = c;
    const gz = gpu.storage(f32(z)), gy = gpu.storage(labels);
    const gout = gpu.storage(1), gdz = gpu.storage(f32(dz0));
    await gpu.run([
      ...supconForward(gpu, gz, gy, gout, shape),
      ...supconBackward(gpu, gz, gy, gdz, { ...shape, weight }),
    ]);
    const [rout, rdz] = await gpu.readMany([gout, gdz]);
    // f32 similarities of unit rows carry ~1e-7/τ absolute error; lse and the mean keep it.
    const label = `n=${n} dim=${dim} classes=${classes}`;
    assertClose(rout, out, { atol: 1e-5, rtol: 1e-5 }, `loss ${label}`);
    assertClose(rdz, dz, { atol: 1e-5, rtol: 1e-4 }, `dz ${label}`);
  }
});

gpuTest(
  "SupconLoss: forwards into two outputs, then one backward that reuses their S",
  async (gpu) => {
    const rng = new Rng(4);
    const weight = 0.75;
    for (const c of [[7, 5, 2, 0.1], [257, 33, 3, 0.07]]) {
      const { shape, z, labels, dz0, out, dz } = twinCase(rng, c, weight);
      const [n, dim] = c;
      const gz = gpu.storage(f32(z)), gy = gpu.storage(labels), gdz = gpu.storage(f32(dz0));
      const [out0, out1] = [gpu.storage(1), gpu.storage(1)];
      const supcon = new SupconLoss(gpu, gz, gy, shape);
      await gpu.run([
        ...supcon.forward(out0),
        ...supcon.forward(out1),
        ...supcon.backwardAfterForward(gdz, weight),
      ]);
      const [r0, r1, rdz] = await gpu.readMany([out0, out1, gdz]);
      const label = `n=${n} dim=${dim}`;
      assertClose(r0, out, { atol: 1e-5, rtol: 1e-5 }, `loss (first output) ${label}`);
      assertClose(r1, out, { atol: 1e-5, rtol: 1e-5 }, `loss (second output) ${label}`);
      assertClose(rdz, dz, { atol: 1e-5, rtol: 1e-4 }, `dz ${label}`);
    }
  },
);

gpuTest("supcon rejects a temperature below 0.01 and short buffers", (gpu) => {
  const z = gpu.storage(12), y = gpu.storage(3), out = gpu.storage(1);
  const expect = (fn: () => unknown, message: string) => {
    try {
      fn();
      throw new Error("no error");
    } catch (e) {
      if (!String(e).includes(message)) throw e;
    }
  };
  expect(
    () => supconForward(gpu, z, y, out, { n: 3, dim: 4, temperature: 0.005 }),
    "supcon_forward: temperature must be finite and >= 0.01",
  );
  expect(
    () => supconBackward(gpu, z, y, gpu.storage(11), { n: 3, dim: 4, temperature: 0.1, weight: 1 }),
    "supcon_backward: dz has 11 elements, expected at least 12",
  );
});
