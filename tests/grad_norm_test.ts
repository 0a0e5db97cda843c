import { gradNorm } from "../src/ops/grad_norm.ts";
import * as twin from "../src/reference/grad_norm.ts";
import type { GpuContext } from "../src/gpu/context.ts";
import { assertClose, f32, f64, gpuTest, gpuTestVariants, randn, Rng } from "./util/check.ts";
import { throws } from "node:assert/strict";

Deno.test("grad norm twin", () => {
  const out = new Float64Array(1);
  twin.gradNorm(Float64Array.from([3, 4, 12, 99]), out, { length: 3 });
  assertClose(out, [13], { atol: 0, rtol: 1e-15 }, "norm");
});

/** GPU vs twin for each length. */
async function compare(gpu: GpuContext, lengths: number[]) {
  const rng = new Rng(1);
  for (const n of lengths) {
    // Mixed magnitudes, as gradients of different layers have.
    const x = f64(f32(randn(rng, n).map((v, i) => v * 10 ** ((i % 7) - 3))));
    const expected = new Float64Array(1);
    twin.gradNorm(x, expected, { length: n });
    const gx = gpu.storage(f32(x)), out = gpu.storage(1);
    await gpu.run(gradNorm(gpu, gx, out, { length: n }));
    assertClose(await gpu.read(out), expected, { atol: 0, rtol: 2e-6 }, `norm n=${n}`);
  }
}

gpuTestVariants(
  "grad norm GPU matches twin up to a few million elements",
  (gpu) => compare(gpu, [1, 7, 33, 257, 1000, 8192, 8193, 32_769, 100_000, 5_000_000]),
);

gpuTest("grad norm GPU on a view inside a larger buffer, prepared once and rerun", async (gpu) => {
  const n = 5000, skip = 64; // 64 floats = 256 bytes, the view offset alignment
  const all = f32(randn(new Rng(2), skip + n + 10));
  const buffer = gpu.storage(all).buffer;
  const view = { buffer, offset: skip * 4, length: n };
  const out = gpu.storage(1);
  const passes = gradNorm(gpu, view, out, { length: n });
  const expected = new Float64Array(1);
  twin.gradNorm(f64(all.subarray(skip, skip + n)), expected, { length: n });
  for (let rep = 0; rep < 2; rep++) {
    await gpu.run(passes);
    assertClose(await gpu.read(out), expected, { atol: 0, rtol: 1e-6 }, `norm rep ${rep}`);
  }
});

gpuTest("grad norm rejects a short buffer with a clear error", (gpu) => {
  throws(
    () => gradNorm(gpu, gpu.storage(10), gpu.storage(1), { length: 11 }),
    /grad_norm: x has 10 elements, expected at least 11/,
  );
});
