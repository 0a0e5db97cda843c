import { deepEqual, throws } from "node:assert/strict";
import { adamwUniforms, adamwUpdate } from "../src/ops/adamw.ts";
import { gradNorm } from "../src/ops/grad_norm.ts";
import * as twin from "../src/reference/adamw.ts";
import * as twinNorm from "../src/reference/grad_norm.ts";
import { assertClose, f32, f64, gpuTest, randn, Rng } from "./util/check.ts";

interface OracleStep {
  step: number;
  lr: number;
  grads: number[];
  totalNorm: number | null;
  params: number[];
  m: number[];
  v: number[];
}
interface Scenario {
  maxNorm: number;
  initialParams: number[];
  steps: OracleStep[];
}
/** Written by tests/oracle/adamw_oracle.py (PyTorch 1.13, float32). */
const oracle: {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decayEnd: number;
  scenarios: Record<string, Scenario>;
} = JSON.parse(Deno.readTextFileSync(new URL("./fixtures/adamw_steps.json", import.meta.url)));

const TOL = { atol: 1e-7, rtol: 1e-5 };

function options(s: Scenario, step: OracleStep): twin.AdamWOptions {
  const { beta1, beta2, eps, weightDecay, decayEnd } = oracle;
  const length = s.initialParams.length;
  return {
    length,
    lr: step.lr,
    beta1,
    beta2,
    eps,
    weightDecay,
    step: step.step,
    decayEnd,
    maxNorm: s.maxNorm,
  };
}

for (const [name, s] of Object.entries(oracle.scenarios)) {
  Deno.test(`adamw twin matches PyTorch clip_grad_norm_ + AdamW, 5 steps (${name})`, () => {
    const n = s.initialParams.length;
    const p = f64(s.initialParams), m = new Float64Array(n), v = new Float64Array(n);
    const norm = new Float64Array(1);
    for (const step of s.steps) {
      const g = f64(step.grads);
      twinNorm.gradNorm(g, norm, { length: n });
      if (step.totalNorm !== null) {
        assertClose(norm, [step.totalNorm], TOL, `grad norm step ${step.step}`);
      }
      twin.adamwUpdate(p, g, m, v, norm, options(s, step));
      deepEqual(g, f64(step.grads), "grads must not be modified");
      assertClose(m, step.m, TOL, `m step ${step.step}`);
      assertClose(v, step.v, TOL, `v step ${step.step}`);
      assertClose(p, step.params, TOL, `params step ${step.step}`);
    }
  });

  gpuTest(
    `adamw GPU matches PyTorch, 5 steps, norm and update on the GPU (${name})`,
    async (gpu) => {
      const n = s.initialParams.length;
      const p = gpu.storage(f32(s.initialParams)), g = gpu.storage(n);
      const m = gpu.storage(n), v = gpu.storage(n), norm = gpu.storage(1);
      // Prepared once, as a training loop does; the uniforms are rewritten every step.
      const passes = gradNorm(gpu, g, norm, { length: n });
      const update = adamwUpdate(gpu, p, g, m, v, norm, options(s, s.steps[0]));
      for (const step of s.steps) {
        gpu.write(g, f32(step.grads));
        gpu.writeUniforms(update, adamwUniforms(options(s, step)));
        await gpu.run([...passes, ...update]);
        const [rp, rg, rm, rv, rn] = await gpu.readMany([p, g, m, v, norm]);
        if (step.totalNorm !== null) {
          assertClose(rn, [step.totalNorm], TOL, `grad norm step ${step.step}`);
        }
        deepEqual(rg, f32(step.grads), "grads must not be modified");
        assertClose(rm, step.m, TOL, `m step ${step.step}`);
        assertClose(rv, step.v, TOL, `v step ${step.step}`);
        assertClose(rp, step.params, TOL, `params step ${step.step}`);
      }
    },
  );
}

gpuTest("adamw GPU matches twin on random state (sizes 1 .. 400k)", async (gpu) => {
  const rng = new Rng(1);
  const sizes = [1, 7, 33, 257, 1000, 400_009];
  // Each size with clipping off (0) and with maxNorm at half and at twice the norm.
  for (const [n, ratio] of sizes.flatMap((n) => [0, 0.5, 2].map((r) => [n, r]))) {
    const p = f64(f32(randn(rng, n))), g = f64(f32(randn(rng, n, 0.01)));
    const m = f64(f32(randn(rng, n, 0.01))), v = f64(f32(randn(rng, n, 1e-4).map(Math.abs)));
    const norm = new Float64Array(1);
    twinNorm.gradNorm(g, norm, { length: n });
    const maxNorm = ratio * norm[0];
    const opts = {
      length: n,
      lr: 3e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.1,
      step: 7,
      decayEnd: Math.floor(n * 0.8),
      maxNorm,
    };
    const gp = gpu.storage(f32(p)), gg = gpu.storage(f32(g)), gm = gpu.storage(f32(m));
    const gv = gpu.storage(f32(v)), gn = gpu.storage(f32(norm));
    twin.adamwUpdate(p, g, m, v, norm, opts);
    await gpu.run(adamwUpdate(gpu, gp, gg, gm, gv, gn, opts));
    const [rp, rg, rm, rv] = await gpu.readMany([gp, gg, gm, gv]);
    const label = `n=${n} maxNorm=${ratio} x norm`;
    assertClose(rg, g, { atol: 0, rtol: 0 }, `grads unmodified ${label}`);
    assertClose(rm, m, { atol: 1e-9, rtol: 1e-6 }, `m ${label}`);
    assertClose(rv, v, { atol: 1e-12, rtol: 1e-6 }, `v ${label}`);
    assertClose(rp, p, { atol: 1e-6, rtol: 1e-5 }, `params ${label}`);
  }
});

Deno.test("adamw rejects bad options with clear errors", () => {
  const base = {
    length: 4,
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    step: 1,
    decayEnd: 4,
    maxNorm: 1,
  };
  const a = () => new Float64Array(4);
  const run = (o: Partial<twin.AdamWOptions>) =>
    twin.adamwUpdate(a(), a(), a(), a(), a(), { ...base, ...o });
  throws(() => run({ step: 0 }), /adamw: step must be an integer >= 1/);
  throws(() => run({ decayEnd: 5 }), /adamw: decayEnd must be an integer in \[0, length = 4\]/);
  throws(() => run({ beta2: 1 }), /adamw: beta2 must be in \[0, 1\)/);
  throws(() => run({ maxNorm: -1 }), /adamw: maxNorm must be >= 0/);
});

gpuTest(
  "adamw GPU leaves the elements past its length alone (the last quad's tail)",
  async (gpu) => {
    // Views of 5 elements at the start of 12-element buffers: the kernel updates quads, and the
    // second quad holds elements 4..7.
    const rng = new Rng(9);
    const full = () => f32(randn(rng, 12, 0.1).map(Math.abs));
    const host = [full(), full(), full(), full()];
    const [p, g, m, v] = host.map((a) => {
      const whole = gpu.storage(a);
      return { buffer: whole.buffer, offset: 0, length: 5 };
    });
    const opts = {
      length: 5,
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.1,
      step: 1,
      decayEnd: 3,
      maxNorm: 0,
    };
    await gpu.run(adamwUpdate(gpu, p, g, m, v, gpu.storage(1), opts));
    const after = await gpu.readMany(host.map((_, i) => ({ ...[p, g, m, v][i], length: 12 })));
    after.forEach((a, i) => {
      const name = ["params", "grads", "m", "v"][i];
      deepEqual([...a.slice(5)], [...host[i].slice(5)], `${name} past the length`);
      if (i !== 1 && a.slice(0, 5).every((x, j) => x === host[i][j])) {
        throw new Error(`${name} was not updated`);
      }
    });
    // A buffer without room for the last quad whole is refused.
    const tight = gpu.buffer({ size: 20, usage: GPUBufferUsage.STORAGE });
    throws(
      () =>
        adamwUpdate(gpu, { buffer: tight, offset: 0, length: 5 }, g, m, v, gpu.storage(1), opts),
      /adamw: params is read in quads of 4 elements: .* must hold 32 bytes from there \(it has 20\)/,
    );
  },
);

gpuTest("adamw rejects a short buffer with a clear error", (gpu) => {
  const b = () => gpu.storage(8);
  const opts = {
    length: 9,
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    step: 1,
    decayEnd: 0,
    maxNorm: 0,
  };
  throws(
    () => adamwUpdate(gpu, b(), b(), b(), b(), b(), opts),
    /adamw: params has 8 elements, expected at least 9/,
  );
});
