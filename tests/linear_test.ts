import type { GpuContext } from "../src/gpu/context.ts";
import { gemmLanes } from "../src/ops/gemm.ts";
import { linearBackward, linearForward, type LinearShape } from "../src/ops/linear.ts";
import * as twin from "../src/reference/linear.ts";
import {
  assertClose,
  f32,
  f64,
  gpuTest,
  numericGradient,
  randn,
  Rng,
  withoutSubgroups,
} from "./util/check.ts";

Deno.test("linear twin: backward matches finite differences", () => {
  const rng = new Rng(1);
  for (const [rows, inDim, outDim] of [[1, 1, 1], [3, 7, 5], [2, 5, 9]]) {
    const shape = { rows, inDim, outDim };
    const x = randn(rng, rows * inDim), w = randn(rng, inDim * outDim), b = randn(rng, outDim);
    const g = randn(rng, rows * outDim); // loss = sum(g * y)
    const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array) => {
      const y = new Float64Array(rows * outDim);
      twin.linearForward(xv, wv, bv, y, shape);
      return y.reduce((s, v, i) => s + v * g[i], 0);
    };
    const dx = new Float64Array(x.length), dw = new Float64Array(w.length);
    const db = new Float64Array(b.length);
    twin.linearBackward(x, w, g, dx, dw, db, shape);
    const tol = { atol: 1e-7, rtol: 1e-6 };
    const at = `${rows}x${inDim}x${outDim}`;
    assertClose(dx, numericGradient((v) => loss(v, w, b), x), tol, `dx ${at}`);
    assertClose(dw, numericGradient((v) => loss(x, v, b), w), tol, `dw ${at}`);
    assertClose(db, numericGradient((v) => loss(x, w, v), b), tol, `db ${at}`);
  }
});

Deno.test("linear twin: backward accumulates and skips a null dx", () => {
  const rng = new Rng(3);
  const shape = { rows: 4, inDim: 3, outDim: 2 };
  const x = randn(rng, 12), w = randn(rng, 6), dy = randn(rng, 8);
  const once = [new Float64Array(12), new Float64Array(6), new Float64Array(2)] as const;
  twin.linearBackward(x, w, dy, once[0], once[1], once[2], shape);
  const dw = once[1].slice(), db = once[2].slice();
  twin.linearBackward(x, w, dy, null, dw, db, shape);
  assertClose(dw, once[1].map((v) => 2 * v), { atol: 1e-12, rtol: 0 }, "dw twice");
  assertClose(db, once[2].map((v) => 2 * v), { atol: 1e-12, rtol: 0 }, "db twice");
});

/** GPU vs twin on one shape: forward, and backward accumulating onto nonzero gradients. */
async function compare(gpu: GpuContext, rng: Rng, shape: LinearShape, withDx: boolean) {
  const { rows: M, inDim: K, outDim: N } = shape;
  const x = f64(f32(randn(rng, M * K))), w = f64(f32(randn(rng, K * N, 0.1)));
  const b = f64(f32(randn(rng, N))), dy = f64(f32(randn(rng, M * N)));
  const dx0 = f64(f32(randn(rng, M * K))), dw0 = f64(f32(randn(rng, K * N)));
  const db0 = f64(f32(randn(rng, N)));
  const y = new Float64Array(M * N), dx = dx0.slice(), dw = dw0.slice(), db = db0.slice();
  twin.linearForward(x, w, b, y, shape);
  twin.linearBackward(x, w, dy, withDx ? dx : null, dw, db, shape);

  const gx = gpu.storage(f32(x)), gw = gpu.storage(f32(w)), gb = gpu.storage(f32(b));
  const gy = gpu.storage(f32(randn(rng, M * N))), gdy = gpu.storage(f32(dy));
  const gdx = gpu.storage(f32(dx0)), gdw = gpu.storage(f32(dw0)), gdb = gpu.storage(f32(db0));
  await gpu.run([
    ...linearForward(gpu, gx, gw, gb, gy, shape),
    ...linearBackward(gpu, gx, gw, gdy, withDx ? gdx : null, gdw, gdb, shape),
  ]);
  const [ry, rdx, rdw, rdb] = await gpu.readMany([gy, gdx, gdw, gdb]);
  // float32 sums of K (or M) products of unit-scale values: error grows like sqrt(length).
  const tol = (n: number) => ({ atol: 2e-6 * Math.sqrt(n) + 1e-5, rtol: 1e-4 });
  const at = `${M}x${K}x${N}`;
  assertClose(ry, y, tol(K), `y ${at}`);
  assertClose(rdx, dx, tol(N), `dx ${at}${withDx ? "" : " (null: untouched)"}`);
  assertClose(rdw, dw, tol(M), `dw ${at}`);
  assertClose(rdb, db, tol(M), `db ${at}`);
}

gpuTest("linear GPU matches twin on edge shapes (forward, accumulating backward)", async (gpu) => {
  console.log(
    `${gpu.info.name}: GEMM lanes ${gemmLanes(gpu.info)}, subgroups ${gpu.info.subgroupSize}`,
  );
  const rng = new Rng(2);
  for (
    const [M, K, N] of [
      [1, 1, 1],
      [7, 7, 7],
      [33, 1, 257],
      [1, 33, 7],
      [257, 33, 1],
      [
        33,
        257,
        17,
      ],
      [1000, 7, 33],
      [5, 1000, 9],
      [17, 12, 1000],
      [70, 128, 64],
    ]
  ) {
    await compare(gpu, rng, { rows: M, inDim: K, outDim: N }, true);
  }
});

gpuTest(
  "linear GPU without subgroups (each lane loads A's shared rows) matches twin",
  (gpu) =>
    withoutSubgroups(async (lanes) => {
      const rng = new Rng(5);
      for (const [M, K, N] of [[1, 1, 1], [33, 257, 17], [257, 33, 70], [100, 64, 300]]) {
        await compare(lanes, rng, { rows: M, inDim: K, outDim: N }, true);
      }
      console.log(`default context: subgroups ${gpu.info.subgroupSize || "off"}`);
    }),
);

gpuTest(
  "linear GPU: x and y in one buffer, chunks past the texture size",
  async (gpu) => {
    const rng = new Rng(4);
    // x and y as views of one buffer (the operands are packed, so C may share A's buffer).
    const shared = gpu.storage(257 * 512 + 64 * 257 + 64);
    const xv = { buffer: shared.buffer, offset: 0, length: 257 * 512 };
    const yv = { buffer: shared.buffer, offset: 257 * 512 * 4, length: 257 * 64 };
    const xs = f64(f32(randn(rng, 257 * 512))), ws = f64(f32(randn(rng, 512 * 64, 0.1)));
    const bs = f64(f32(randn(rng, 64))), ys = new Float64Array(257 * 64);
    twin.linearForward(xs, ws, bs, ys, { rows: 257, inDim: 512, outDim: 64 });
    gpu.write(xv, f32(xs));
    const dispatches = linearForward(gpu, xv, gpu.storage(f32(ws)), gpu.storage(f32(bs)), yv, {
      rows: 257,
      inDim: 512,
      outDim: 64,
    });
    await gpu.run(dispatches);
    assertClose(await gpu.read(yv), ys, { atol: 1e-4, rtol: 1e-4 }, "y in x's buffer");
    // Past the device's texture side (16384 on llvmpipe) rows and reductions are cut into chunks:
    // M rows for y, dx and (as dw's reduction) dw; K for y's reduction and dx's columns.
    const side = gpu.limits.maxTextureDimension2D;
    const gemms = (shape: LinearShape) =>
      linearForward(
        gpu,
        gpu.storage(shape.rows * shape.inDim),
        gpu.storage(shape.inDim * shape.outDim),
        gpu.storage(shape.outDim),
        gpu.storage(shape.rows * shape.outDim),
        shape,
      ).flatMap((c) => "spec" in c ? [c.spec.name] : []);
    const chunked = gemms({ rows: side + 16, inDim: 8, outDim: 12 });
    if (chunked.filter((n) => n === "gemm_store").length !== 2) {
      throw new Error(`expected two row chunks, got ${chunked}`);
    }
    await compare(gpu, rng, { rows: side + 16, inDim: 8, outDim: 12 }, true);
    await compare(gpu, rng, { rows: 3, inDim: side + 6, outDim: 5 }, true);
    // Views longer than their matrices, NaN past the end: nothing past a matrix is read (K = 7 is
    // packed by the kernel, not copied, and its last quad reaches past the matrix).
    {
      const shape = { rows: 9, inDim: 7, outDim: 5 };
      const xs = f64(f32(randn(rng, 63))),
        ws = f64(f32(randn(rng, 35))),
        bs = f64(f32(randn(rng, 5)));
      const ys = new Float64Array(45);
      twin.linearForward(xs, ws, bs, ys, shape);
      const tail = (v: Float64Array) => f32(Float64Array.from([...v, NaN, NaN, NaN, NaN, NaN]));
      const y = gpu.storage(45);
      await gpu.run(linearForward(
        gpu,
        gpu.storage(tail(xs)),
        gpu.storage(tail(ws)),
        gpu.storage(f32(bs)),
        y,
        shape,
      ));
      assertClose(await gpu.read(y), ys, { atol: 1e-5, rtol: 1e-5 }, "views longer than x and w");
    }
    // dy feeds db, dw and dx: its texture is filled once (x, w and dy: three uploads in all).
    const fills = linearBackward(
      gpu,
      gpu.storage(64 * 128),
      gpu.storage(128 * 64),
      gpu.storage(64 * 64),
      gpu.storage(64 * 128),
      gpu.storage(128 * 64),
      gpu.storage(64),
      { rows: 64, inDim: 128, outDim: 64 },
    ).filter((c) => "upload" in c || ("spec" in c && c.spec.name === "gemm_pack"));
    if (fills.length !== 3) throw new Error(`expected 3 texture fills, got ${fills.length}`);
  },
);

gpuTest("linear rejects bad shapes and short buffers with clear errors", (gpu) => {
  const v = (n: number) => gpu.storage(n);
  const expectError = (fn: () => unknown, text: string) => {
    try {
      fn();
    } catch (e) {
      if (String(e).includes(text)) return;
      throw e;
    }
    throw new Error(`no error (expected "${text}")`);
  };
  expectError(
    () => linearForward(gpu, v(10), v(12), v(4), v(8), { rows: 2, inDim: 6, outDim: 4 }),
    "linear_forward: x has 10 elements, expected at least 12",
  );
  expectError(
    () => linearForward(gpu, v(6), v(6), v(1), v(1), { rows: 1, inDim: 6, outDim: 0 }),
    "linear_forward: shape.outDim must be an integer >= 1, got 0",
  );
  expectError(
    () => linearBackward(gpu, v(6), v(6), v(1), v(5), v(6), v(1), { rows: 1, inDim: 6, outDim: 1 }),
    "linear_backward: dx has 5 elements, expected at least 6",
  );
});
