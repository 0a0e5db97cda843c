import { clipLossBackward, clipLossForward } from "../src/ops/clip_loss.ts";
import * as twin from "../src/reference/clip_loss.ts";
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

Deno.test("clip loss twin: backward matches finite differences", () => {
  const rng = new Rng(1);
  for (const n of [1, 2, 5, 9]) {
    const logits = randn(rng, n * n, 3);
    const weight = 0.7;
    const loss = (x: Float64Array) => {
      const out = new Float64Array(1);
      twin.clipLossForward(x, out, { n });
      return weight * out[0];
    };
    const d = new Float64Array(n * n);
    twin.clipLossBackward(logits, d, { n, weight });
    assertClose(d, numericGradient(loss, logits), { atol: 1e-8, rtol: 1e-6 }, `dlogits n=${n}`);
  }
});

Deno.test("clip loss twin: matches the definition and stays finite at large logits", () => {
  const out = new Float64Array(1);
  twin.clipLossForward(new Float64Array([2, 0, 0, 2]), out, { n: 2 });
  assertClose(out, [Math.log(1 + Math.exp(-2))], { atol: 1e-15, rtol: 1e-12 }, "2x2");
  twin.clipLossForward(new Float64Array([1000, 0, -1000, 900]), out, { n: 2 });
  // Every row and column is dominated by its diagonal element: the loss is 0 (to e^-900).
  assertClose(out, [0], { atol: 1e-12, rtol: 0 }, "large logits");
});

gpuTestVariants("clip loss GPU matches twin (forward, accumulating backward)", async (gpu) => {
  const rng = new Rng(2);
  for (const [n, scale] of [[1, 1], [7, 10], [33, 30], [257, 14], [300, 100]]) {
    const logits = f64(f32(randn(rng, n * n, scale)));
    const d0 = f64(f32(randn(rng, n * n, 0.01)));
    const weight = 0.8;
    const out = new Float64Array(1), d = d0.slice();
    twin.clipLossForward(logits, out, { n });
    twin.clipLossBackward(logits, d, { n, weight });

    const gl = gpu.storage(f32(logits)), gout = gpu.storage(1), gd = gpu.storage(f32(d0));
    await gpu.run([
      ...clipLossForward(gpu, gl, gout, { n }),
      ...clipLossBackward(gpu, gl, gd, { n, weight }),
    ]);
    const [rout, rd] = await gpu.readMany([gout, gd]);
    // The loss is a mean of f32 log-sum-exps of logits up to ~4·scale: 1e-7 · that, relative.
    assertClose(rout, out, { atol: 1e-6 * scale, rtol: 1e-5 }, `loss n=${n}`);
    assertClose(rd, d, { atol: 1e-6, rtol: 1e-4 }, `dlogits n=${n}`);
  }
});

gpuTest("clip loss rejects a short buffer with a clear error", (gpu) => {
  try {
    clipLossForward(gpu, gpu.storage(8), gpu.storage(1), { n: 3 });
    throw new Error("no error");
  } catch (e) {
    if (!String(e).includes("clip_loss_forward: logits has 8 elements, expected at least 9")) {
      throw e;
    }
  }
});
