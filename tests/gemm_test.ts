import assert from "node:assert/strict";
import type { GpuContext } from "../src/gpu/context.ts";
import { gemm } from "../src/ops/gemm.ts";
import * as twin from "../src/reference/gemm.ts";
import { assertClose, f32, f64, gpuTest, gpuTestVariants, randn, Rng } from "./util/check.ts";

/** `m` [rows, cols] as stored for a MatrixRef: itself, or its transpose row-major. */
function stored(m: Float64Array, rows: number, cols: number, transposed: boolean): Float64Array {
  if (!transposed) return m;
  return Float64Array.from({ length: rows * cols }, (_, i) => m[(i % rows) * cols + ~~(i / rows)]);
}

Deno.test("gemm twin: transposed operands are read as stored, bias overwrites, null adds", () => {
  const rng = new Rng(1);
  const a = randn(rng, 3 * 4), b = randn(rng, 4 * 2), bias = randn(rng, 2);
  const want = new Float64Array(6);
  for (let r = 0; r < 3; r++) {
    for (let j = 0; j < 2; j++) {
      for (let k = 0; k < 4; k++) want[r * 2 + j] += a[r * 4 + k] * b[k * 2 + j];
    }
  }
  for (const [aT, bT] of [[false, false], [true, false], [false, true], [true, true]]) {
    const am = { src: stored(a, 3, 4, aT), rows: 3, cols: 4, transposed: aT };
    const bm = { src: stored(b, 4, 2, bT), rows: 4, cols: 2, transposed: bT };
    const c = new Float64Array(6).fill(1);
    twin.gemm("C += A·B", am, bm, null, c);
    assertClose(c, want.map((v) => v + 1), { atol: 1e-12, rtol: 0 }, `C += A·B ${aT} ${bT}`);
    twin.gemm("C = A·B + bias", am, bm, bias, c);
    assertClose(c, want.map((v, i) => v + bias[i % 2]), { atol: 1e-12, rtol: 0 }, "bias");
  }
  const m = (rows: number, cols: number) => ({ src: a, rows, cols, transposed: false });
  assert.throws(() => twin.gemm("P", m(3, 4), m(3, 4), null, a), /P: A is \[3, 4\] but B is/);
});

/** GPU vs twin for one shape and transposition: C = A·B + bias, then C += A·B on top. */
async function compare(gpu: GpuContext, rng: Rng, [M, K, N]: number[], aT: boolean, bT: boolean) {
  const a = f64(f32(randn(rng, M * K))), b = f64(f32(randn(rng, K * N)));
  const bias = f64(f32(randn(rng, N)));
  const am = { src: stored(a, M, K, aT), rows: M, cols: K, transposed: aT };
  const bm = { src: stored(b, K, N, bT), rows: K, cols: N, transposed: bT };
  const want = new Float64Array(M * N);
  twin.gemm("C = A·B + bias", am, bm, bias, want);
  twin.gemm("C += A·B", am, bm, null, want);
  const ga = { ...am, src: gpu.storage(f32(am.src)) },
    gb = { ...bm, src: gpu.storage(f32(bm.src)) };
  const c = gpu.storage(f32(randn(rng, M * N)));
  await gpu.runOnce(() => [
    ...gemm(gpu, "C = A·B + bias", ga, gb, gpu.storage(f32(bias)), c),
    ...gemm(gpu, "C += A·B", ga, gb, null, c),
  ]);
  const tol = { atol: 4e-6 * Math.sqrt(K) + 1e-5, rtol: 1e-4 };
  assertClose(await gpu.read(c), want, tol, `${M}x${K}x${N} A_T ${aT} B_T ${bT}`);
}

gpuTestVariants(
  "gemm GPU matches twin, operands stored as themselves or transposed",
  async (gpu) => {
    const rng = new Rng(2);
    for (const shape of [[1, 1, 1], [7, 33, 5], [33, 7, 257], [70, 128, 64]]) {
      for (const [aT, bT] of [[false, false], [true, false], [false, true], [true, true]]) {
        await compare(gpu, rng, shape, aT, bT);
      }
    }
  },
);

gpuTest("gemm GPU: a transposed B is cut along C's columns, the bias follows", async (gpu) => {
  const rng = new Rng(4);
  const side = gpu.limits.maxTextureDimension2D;
  const [M, K, N] = [5, 6, side + 40];
  const am = { src: f64(f32(randn(rng, M * K))), rows: M, cols: K, transposed: false };
  const bm = { src: f64(f32(randn(rng, N * K))), rows: K, cols: N, transposed: true };
  const bias = f64(f32(randn(rng, N)));
  const want = new Float64Array(M * N);
  twin.gemm("C = A·Bᵀ + bias", am, bm, bias, want);
  const c = gpu.storage(M * N);
  await gpu.runOnce(() =>
    gemm(
      gpu,
      "C = A·Bᵀ + bias",
      { ...am, src: gpu.storage(f32(am.src)) },
      { ...bm, src: gpu.storage(f32(bm.src)) },
      gpu.storage(f32(bias)),
      c,
    )
  );
  assertClose(await gpu.read(c), want, { atol: 1e-4, rtol: 1e-4 }, "A·Bᵀ + bias, column chunks");
});
