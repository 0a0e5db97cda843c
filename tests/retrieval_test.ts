import { deepEqual, throws } from "node:assert/strict";
import { INVALID_RANK, NO_INDEX, retrievalRank, topK } from "../src/ops/retrieval.ts";
import * as twin from "../src/reference/retrieval.ts";
import { f32, f64, gpuTest, Rng } from "./util/check.ts";

Deno.test("retrieval twin: ranks and top-k with ties", () => {
  // Row 0: target 2 (0.5) ties with j=0 and is beaten by j=1 only.
  // Row 1: target 0 holds the best score.
  const scores = Float64Array.from([0.5, 0.9, 0.5, 0.1, 0.3, 0.3, 0.3, 0.3]);
  const rank = new Uint32Array(2);
  twin.retrievalRank(scores, Uint32Array.from([2, 0]), rank, { rows: 2, cols: 4 });
  deepEqual(rank, Uint32Array.from([1, 0]));
  const idx = new Uint32Array(6), val = new Float64Array(6);
  twin.topK(scores, idx, val, { rows: 2, cols: 4, k: 3 });
  deepEqual(idx, Uint32Array.from([1, 0, 2, 0, 1, 2]));
  deepEqual(val, Float64Array.from([0.9, 0.5, 0.5, 0.3, 0.3, 0.3]));
});

Deno.test("retrieval twin rejects bad shapes, k and targets with clear errors", () => {
  const s = new Float64Array(10), idx = new Uint32Array(20), val = new Float64Array(20);
  throws(
    () => twin.topK(s, idx, val, { rows: 2, cols: 5, k: 6 }),
    /top_k: k = 6 is larger than cols = 5; k must be <= cols/,
  );
  throws(() => twin.topK(s, idx, val, { rows: 2, cols: 5, k: 0 }), /k must be an integer in/);
  throws(() => twin.topK(s, idx, val, { rows: 1, cols: 100, k: 65 }), /\[1, 64\], got 65/);
  throws(
    () => twin.retrievalRank(s, Uint32Array.from([0, 5]), new Uint32Array(2), { rows: 2, cols: 5 }),
    /retrieval_rank: target\[1\] = 5 is outside \[0, cols = 5\)/,
  );
  throws(
    () => twin.retrievalRank(s, new Uint32Array(2), new Uint32Array(2), { rows: 0, cols: 5 }),
    /retrieval_rank: rows must be an integer >= 1, got 0/,
  );
});

gpuTest("retrieval GPU ranks and top-k equal the twin's exactly (ties included)", async (gpu) => {
  const rng = new Rng(1);
  const shapes = [[1, 1], [7, 7], [33, 257], [257, 33], [1000, 1000], [1, 100_000], [3000, 300]];
  for (const [rows, cols] of shapes) {
    for (const tied of [false, true]) {
      // Tied: scores from 5 values, so most comparisons are ties.
      const raw = Float64Array.from(
        { length: rows * cols },
        () => tied ? rng.int(5) / 4 : rng.normal(),
      );
      const scores = f64(f32(raw));
      const target = Uint32Array.from({ length: rows }, (_, i) => (i * 7919) % cols);
      const k = Math.min(cols, [1, 5, 64][rows % 3]);
      const shape = { rows, cols, k };
      const rank = new Uint32Array(rows), idx = new Uint32Array(rows * k);
      const val = new Float64Array(rows * k);
      twin.retrievalRank(scores, target, rank, shape);
      twin.topK(scores, idx, val, shape);

      const gs = gpu.storage(f32(scores)), gt = gpu.storage(target), gr = gpu.storage(rows);
      const gi = gpu.storage(rows * k), gv = gpu.storage(rows * k);
      await gpu.run([retrievalRank(gpu, gs, gt, gr, shape), ...topK(gpu, gs, gi, gv, shape)]);
      const [br, bi, bv] = await gpu.readBytes([gr, gi, gv]);
      const label = `${rows}x${cols} k=${k}${tied ? " tied" : ""}`;
      deepEqual(new Uint32Array(br), rank, `rank ${label}`);
      deepEqual(new Uint32Array(bi), idx, `top-k index ${label}`);
      deepEqual(f64(new Float32Array(bv)), val, `top-k score ${label}`);
    }
  }
});

gpuTest(
  "top-k GPU on ascending rows (every candidate inserted first) of 200k columns",
  async (gpu) => {
    // The worst case for insertion, and 4 passes (first, then 3 merges) for k = 64: every
    // invocation must stay inside llvmpipe's 65,535-iteration loop budget to be right.
    const cols = 200_000, k = 64;
    const scores = Float32Array.from({ length: 2 * cols }, (_, i) => i < cols ? i : (i % 1000));
    const shape = { rows: 2, cols, k };
    const idx = new Uint32Array(2 * k), val = new Float64Array(2 * k);
    twin.topK(f64(scores), idx, val, shape);
    const gi = gpu.storage(2 * k), gv = gpu.storage(2 * k);
    const passes = topK(gpu, gpu.storage(scores), gi, gv, shape);
    deepEqual(passes.length, 4);
    await gpu.run(passes);
    const [bi, bv] = await gpu.readBytes([gi, gv]);
    deepEqual(new Uint32Array(bi), idx);
    deepEqual(f64(new Float32Array(bv)), val);
    deepEqual(idx[0], cols - 1);
  },
);

gpuTest("top-k GPU skips NaN scores and pads like the twin; -Infinity is a score", async (gpu) => {
  const scores = Float32Array.from([NaN, 1, -Infinity, NaN, NaN, NaN, 2, NaN]);
  const shape = { rows: 2, cols: 4, k: 3 };
  const idx = new Uint32Array(6), val = new Float64Array(6);
  twin.topK(f64(scores), idx, val, shape);
  deepEqual(idx, Uint32Array.from([1, 2, NO_INDEX, 2, NO_INDEX, NO_INDEX]));
  deepEqual(val, Float64Array.from([1, -Infinity, -Infinity, 2, -Infinity, -Infinity]));
  const gi = gpu.storage(6), gv = gpu.storage(6);
  await gpu.run(topK(gpu, gpu.storage(scores), gi, gv, shape));
  const [bi, bv] = await gpu.readBytes([gi, gv]);
  deepEqual(new Uint32Array(bi), idx);
  deepEqual(f64(new Float32Array(bv)), val);
});

gpuTest("retrieval GPU marks a target outside the row and rejects bad k", async (gpu) => {
  const scores = gpu.storage(Float32Array.from([1, 2, 3, 4, 5, 6]));
  const target = gpu.storage(Uint32Array.from([1, 3])), rank = gpu.storage(2);
  await gpu.run([retrievalRank(gpu, scores, target, rank, { rows: 2, cols: 3 })]);
  deepEqual(new Uint32Array((await gpu.readBytes([rank]))[0]), Uint32Array.from([1, INVALID_RANK]));
  throws(
    () => topK(gpu, scores, gpu.storage(8), gpu.storage(8), { rows: 2, cols: 3, k: 4 }),
    /top_k: k = 4 is larger than cols = 3; k must be <= cols/,
  );
  throws(
    () => topK(gpu, scores, gpu.storage(3), gpu.storage(4), { rows: 2, cols: 3, k: 2 }),
    /top_k: outIndex has 3 elements, expected at least 4/,
  );
});
