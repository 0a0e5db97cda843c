import { deepEqual, throws } from "node:assert/strict";
import { dropoutBackward, dropoutForward, dropoutUniforms } from "../src/ops/dropout.ts";
import * as twin from "../src/reference/dropout.ts";
import { assertClose, f32, f64, gpuTest, numericGradient, randn, Rng } from "./util/check.ts";

/** Kept-element mask of the twin (x = 1 everywhere). */
function twinMask(length: number, p: number, seed: number): Float64Array {
  const y = new Float64Array(length);
  twin.dropoutForward(new Float64Array(length).fill(1), y, { length, p, seed });
  return y;
}

Deno.test("dropout twin: backward matches finite differences", () => {
  const opts = { length: 33, p: 0.3, seed: 5 };
  const x = randn(new Rng(1), 33), w = randn(new Rng(2), 33); // loss = sum(w * y)
  const loss = (xv: Float64Array) => {
    const y = new Float64Array(33);
    twin.dropoutForward(xv, y, opts);
    return y.reduce((s, v, i) => s + v * w[i], 0);
  };
  const dx = new Float64Array(33);
  twin.dropoutBackward(w, dx, opts);
  assertClose(dx, numericGradient(loss, x), { atol: 1e-8, rtol: 1e-8 }, "dx");
});

Deno.test("dropout twin: kept fraction ≈ 1 - p, scale 1/(1-p), seeds independent", () => {
  const n = 200_000;
  for (const p of [0.1, 0.5, 0.9]) {
    const a = twinMask(n, p, 11), b = twinMask(n, p, 12);
    const kept = a.filter((v) => v !== 0);
    const sigma = Math.sqrt(p * (1 - p) / n);
    const frac = kept.length / n;
    if (Math.abs(frac - (1 - p)) > 5 * sigma) throw new Error(`p=${p}: kept fraction ${frac}`);
    if (kept.some((v) => v !== 1 / (1 - p))) throw new Error(`p=${p}: kept not scaled 1/(1-p)`);
    // Masks of neighbouring seeds agree as often as independent ones would.
    const agree = a.filter((v, i) => (v === 0) === (b[i] === 0)).length / n;
    const expected = p * p + (1 - p) * (1 - p);
    if (Math.abs(agree - expected) > 5 * Math.sqrt(expected * (1 - expected) / n)) {
      throw new Error(`p=${p}: seeds 11 and 12 agree on ${agree}, independent: ${expected}`);
    }
  }
  deepEqual(twinMask(1000, 0, 3), new Float64Array(1000).fill(1));
  deepEqual(twinMask(1000, 1, 3), new Float64Array(1000));
});

Deno.test("dropout rejects bad p and seed with clear errors", () => {
  const y = new Float64Array(4), x = new Float64Array(4);
  throws(() => twin.dropoutForward(x, y, { length: 4, p: 1.5, seed: 0 }), /p must be/);
  throws(() => twin.dropoutForward(x, y, { length: 4, p: 0.5, seed: -1 }), /seed must/);
  throws(() => twin.dropoutForward(x, y, { length: 4, p: NaN, seed: 0 }), /p must be/);
});

gpuTest(
  "dropout GPU matches twin exactly in the mask (forward, accumulating backward)",
  async (gpu) => {
    const rng = new Rng(3);
    for (const n of [1, 7, 33, 257, 1000, 300_007]) {
      for (const [p, seed] of [[0, 1], [0.1, 2], [0.5, 0xffffffff], [0.9, 4], [1, 5]]) {
        const opts = { length: n, p, seed };
        const x = f64(f32(randn(rng, n))), dy = f64(f32(randn(rng, n)));
        const dx0 = f64(f32(randn(rng, n)));
        const y = new Float64Array(n), dx = dx0.slice();
        twin.dropoutForward(x, y, opts);
        twin.dropoutBackward(dy, dx, opts);

        const gx = gpu.storage(f32(x)), gy = gpu.storage(n);
        const gdy = gpu.storage(f32(dy)), gdx = gpu.storage(f32(dx0));
        await gpu.run([
          ...dropoutForward(gpu, gx, gy, opts),
          ...dropoutBackward(gpu, gdy, gdx, opts),
        ]);
        const [ry, rdx] = await gpu.readMany([gy, gdx]);
        const label = `n=${n} p=${p} seed=${seed}`;
        const mismatch = ry.findIndex((v, i) => (v === 0) !== (y[i] === 0));
        if (mismatch >= 0) throw new Error(`${label}: masks differ first at ${mismatch}`);
        assertClose(ry, y, { atol: 0, rtol: 2e-7 }, `y ${label}`);
        assertClose(rdx, dx, { atol: 1e-6, rtol: 2e-7 }, `dx ${label}`);
        if (p === 0 && ry.some((v, i) => v !== x[i])) throw new Error(`${label}: not the identity`);
      }
    }
  },
);

gpuTest("dropout GPU: kept fraction ≈ 1 - p and reproducible per seed", async (gpu) => {
  const n = 1 << 20, p = 0.25;
  const ones = gpu.storage(new Float32Array(n).fill(1)), a = gpu.storage(n), b = gpu.storage(n);
  await gpu.run([
    ...dropoutForward(gpu, ones, a, { length: n, p, seed: 99 }),
    ...dropoutForward(gpu, ones, b, { length: n, p, seed: 99 }),
  ]);
  const [ra, rb] = await gpu.readMany([a, b]);
  deepEqual(ra, rb);
  const frac = ra.filter((v) => v !== 0).length / n;
  if (Math.abs(frac - (1 - p)) > 5 * Math.sqrt(p * (1 - p) / n)) {
    throw new Error(`kept fraction ${frac}, expected ≈ ${1 - p}`);
  }
});

gpuTest("dropout GPU: a prepared dispatch takes a new seed through its uniforms", async (gpu) => {
  const n = 4096, x = f64(f32(randn(new Rng(5), n)));
  const gx = gpu.storage(f32(x)), gy = gpu.storage(n);
  const forward = dropoutForward(gpu, gx, gy, { length: n, p: 0.5, seed: 1 });
  for (const seed of [2, 3]) {
    gpu.writeUniforms(forward, dropoutUniforms({ length: n, p: 0.5, seed }));
    await gpu.run(forward);
    const y = new Float64Array(n);
    twin.dropoutForward(x, y, { length: n, p: 0.5, seed });
    assertClose(await gpu.read(gy), y, { atol: 0, rtol: 2e-7 }, `seed ${seed}`);
  }
});

gpuTest("dropout rejects a short buffer with a clear error", (gpu) => {
  const dy = gpu.storage(10), dx = gpu.storage(12);
  throws(
    () => dropoutBackward(gpu, dy, dx, { length: 12, p: 0.1, seed: 0 }),
    /dropout_backward: dy has 10 elements, expected at least 12/,
  );
});
