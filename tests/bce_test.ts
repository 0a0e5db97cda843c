import { bceBackward, bceForward } from "../src/ops/bce.ts";
import * as twin from "../src/reference/bce.ts";
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

function randomLabels(rng: Rng, n: number): Int32Array<ArrayBuffer> {
  return Int32Array.from({ length: n }, () => rng.int(2));
}

Deno.test("bce twin: backward matches finite differences", () => {
  const rng = new Rng(1);
  for (const n of [1, 7, 33]) {
    const logits = randn(rng, n, 4), labels = randomLabels(rng, n), weight = 1.3;
    const loss = (x: Float64Array) => {
      const out = new Float64Array(1);
      twin.bceForward(x, labels, out, { n });
      return weight * out[0];
    };
    const d = new Float64Array(n);
    twin.bceBackward(logits, labels, d, { n, weight });
    assertClose(d, numericGradient(loss, logits), { atol: 1e-8, rtol: 1e-6 }, `dlogits n=${n}`);
  }
});

Deno.test("bce twin: stable at extreme logits", () => {
  const out = new Float64Array(1);
  twin.bceForward(new Float64Array([800, -800]), new Int32Array([1, 0]), out, { n: 2 });
  assertClose(out, [0], { atol: 1e-300, rtol: 0 }, "confident and right");
  twin.bceForward(new Float64Array([800, -800]), new Int32Array([0, 1]), out, { n: 2 });
  assertClose(out, [800], { atol: 0, rtol: 1e-15 }, "confident and wrong");
});

gpuTestVariants("bce GPU matches twin (forward, accumulating backward)", async (gpu) => {
  const rng = new Rng(2);
  for (const [n, scale] of [[1, 1], [7, 3], [33, 20], [257, 5], [512, 100], [1000, 2]]) {
    const logits = f64(f32(randn(rng, n, scale))), labels = randomLabels(rng, n);
    const d0 = f64(f32(randn(rng, n, 0.1))), weight = 0.3;
    const out = new Float64Array(1), d = d0.slice();
    twin.bceForward(logits, labels, out, { n });
    twin.bceBackward(logits, labels, d, { n, weight });

    const gl = gpu.storage(f32(logits)), gy = gpu.storage(labels);
    const gout = gpu.storage(1), gd = gpu.storage(f32(d0));
    await gpu.run([
      ...bceForward(gpu, gl, gy, gout, { n }),
      ...bceBackward(gpu, gl, gy, gd, { n, weight }),
    ]);
    const [rout, rd] = await gpu.readMany([gout, gd]);
    assertClose(rout, out, { atol: 1e-7, rtol: 1e-5 }, `loss n=${n}`);
    assertClose(rd, d, { atol: 1e-7, rtol: 1e-5 }, `dlogits n=${n}`);
  }
});

gpuTest("bce GPU is accurate where log(1 + e^-|x|) would round to 0", async (gpu) => {
  const logits = f32([20, -20, 30]), labels = new Int32Array([1, 0, 1]);
  const out = new Float64Array(1);
  twin.bceForward(f64(logits), labels, out, { n: 3 });
  const gout = gpu.storage(1);
  await gpu.run(bceForward(gpu, gpu.storage(logits), gpu.storage(labels), gout, { n: 3 }));
  assertClose(await gpu.read(gout), out, { atol: 0, rtol: 1e-5 }, "tiny loss");
});

gpuTest("bce rejects a short buffer with a clear error", (gpu) => {
  try {
    bceForward(gpu, gpu.storage(8), gpu.storage(7), gpu.storage(1), { n: 8 });
    throw new Error("no error");
  } catch (e) {
    if (!String(e).includes("bce_forward: labels has 7 elements, expected at least 8")) throw e;
  }
});
