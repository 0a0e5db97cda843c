/**
 * Test helpers: tolerance comparison that prints the first mismatches and the max difference,
 * central finite differences, random data, and GPU tests that skip with a clear message when no
 * adapter exists (and fail instead when `CXR_REQUIRE_GPU=1`, as in CI).
 *
 * @module
 */

import { GpuContext, tryGetGpu } from "../../src/gpu/context.ts";
import { Rng } from "../../src/util/rng.ts";

/** Tolerance: |a - e| <= atol + rtol * |e| elementwise. */
export interface Tolerance {
  /** Absolute tolerance. */
  atol: number;
  /** Relative tolerance. */
  rtol: number;
}

/**
 * Throws, listing the first mismatches and the max abs/rel difference, unless `actual` is close
 * to `expected` everywhere.
 * @example
 * ```ts
 * assertClose([1, 2], [1, 2.0000001], { atol: 1e-6, rtol: 0 }, "y");
 * ```
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  label: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  const bad: string[] = [];
  let maxAbs = 0, maxRel = 0, count = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const d = Math.abs(a - e);
    if (!(d <= tol.atol + tol.rtol * Math.abs(e))) {
      count++;
      if (bad.length < 8) bad.push(`  [${i}] got ${a}, expected ${e}, diff ${d.toExponential(3)}`);
    }
    if (Number.isFinite(d)) {
      maxAbs = Math.max(maxAbs, d);
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), 1e-30));
    } else if (!(Number.isNaN(a) && Number.isNaN(e))) maxAbs = Infinity;
  }
  if (count > 0) {
    throw new Error(
      `${label}: ${count} of ${actual.length} outside atol ${tol.atol} + rtol ${tol.rtol}; ` +
        `max abs diff ${maxAbs.toExponential(3)}, max rel ${maxRel.toExponential(3)}\n` +
        bad.join("\n"),
    );
  }
}

/**
 * Central finite-difference gradient of a scalar function of `x` (float64).
 * @example
 * ```ts
 * const g = numericGradient((x) => x[0] * x[0], new Float64Array([3])); // ≈ [6]
 * ```
 */
export function numericGradient(
  f: (x: Float64Array) => number,
  x: Float64Array,
  eps = 1e-6,
): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const plus = f(x);
    x[i] = keep - eps;
    const minus = f(x);
    x[i] = keep;
    g[i] = (plus - minus) / (2 * eps);
  }
  return g;
}

/**
 * Array of `n` standard normal float64 values from a seeded generator, times `scale`.
 * @example
 * ```ts
 * const x = randn(new Rng(1), 10);
 * ```
 */
export function randn(rng: Rng, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

export { Rng };

const gpu = await tryGetGpu();
const requireGpu = Deno.env.get("CXR_REQUIRE_GPU") === "1";

/**
 * Registers a test that needs a WebGPU adapter. Without one it is skipped with a message, or
 * fails when `CXR_REQUIRE_GPU=1` (CI sets it, so a run whose GPU tests skipped is red).
 * @example
 * ```ts
 * gpuTest("l2norm forward", async (gpu) => { await gpu.run([]); });
 * ```
 */
export function gpuTest(name: string, fn: (gpu: GpuContext) => Promise<void> | void): void {
  if (!gpu && !requireGpu) {
    console.warn(`skipping "${name}": no WebGPU adapter (apt-get install mesa-vulkan-drivers)`);
  }
  Deno.test({
    name,
    ignore: !gpu && !requireGpu,
    fn: async () => {
      if (!gpu) throw new Error("CXR_REQUIRE_GPU=1 but no WebGPU adapter was found");
      await fn(gpu);
    },
  });
}

/**
 * Runs `fn` on a second context of the same adapter without subgroups, where kernels use their
 * variants for such devices (the process-wide context uses subgroups where the device has them),
 * and destroys it afterwards.
 * @example
 * ```ts
 * gpuTest("l2norm without subgroups", () => withoutSubgroups(async (plain) => { await plain.run([]); }));
 * ```
 */
export async function withoutSubgroups(fn: (gpu: GpuContext) => Promise<void>): Promise<void> {
  const plain = await GpuContext.create({ subgroups: false });
  try {
    if (plain.info.subgroupSize) throw new Error("subgroups: false was not honoured");
    await fn(plain);
  } finally {
    plain.device.destroy();
  }
}

/**
 * Registers `name` twice: on the process-wide context, and as `name [no subgroups]` on a context
 * without subgroups ({@link withoutSubgroups}), for kernels whose WGSL comes in variants for both.
 * @example
 * ```ts
 * gpuTestVariants("l2norm GPU matches twin", async (gpu) => { await gpu.run([]); });
 * ```
 */
export function gpuTestVariants(name: string, fn: (gpu: GpuContext) => Promise<void>): void {
  gpuTest(name, fn);
  gpuTest(`${name} [no subgroups]`, () => withoutSubgroups(fn));
}

/** float64 copy of a float32 array (twins run in float64). */
export function f64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a);
}

/** float32 copy (what goes up to the GPU). */
export function f32(a: ArrayLike<number>): Float32Array<ArrayBuffer> {
  return Float32Array.from(a);
}
