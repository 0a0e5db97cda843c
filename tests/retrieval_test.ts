import { deepEqual, deepStrictEqual, throws } from "node:assert/strict";
import { INVALID_RANK, retrievalRank, topK } from "../src/ops/retrieval.ts";
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

// NaN (quiet, negative, signalling payloads), +Infinity and -Infinity among finite scores.
const NAN_BITS = [0x7fc00000, 0xffc00000, 0x7f800001];
const nonFinite = (r: number) =>
  r < NAN_BITS.length
    ? new Float32Array(Uint32Array.of(NAN_BITS[r]).buffer)[0]
    : [Infinity, -Infinity][r - NAN_BITS.length];

Deno.test("retrieval twin: NaN and ±Infinity rank after every finite score, by index", () => {
  const inf = Infinity, nan = NaN;
  // Row 0: finite -5 and 0.25 come first; then the non-finite ones by column.
  // Row 1: only non-finite scores but one. Row 2: nothing finite at all.
  const scores = Float64Array.from([
    ...[inf, nan, -5, -inf, 0.25, inf],
    ...[nan, -inf, inf, 7, nan, nan],
    ...[nan, nan, inf, -inf, nan, inf],
  ]);
  const shape = { rows: 3, cols: 6, k: 4 };
  const idx = new Uint32Array(12), val = new Float64Array(12);
  twin.topK(scores, idx, val, shape);
  deepEqual(idx, Uint32Array.from([4, 2, 0, 1, 3, 0, 1, 2, 0, 1, 2, 3]));
  deepStrictEqual(
    val,
    Float64Array.from([0.25, -5, inf, nan, 7, nan, -inf, inf, nan, nan, inf, -inf]),
  );
  const rank = new Uint32Array(3);
  // A finite target counts only finite better scores; a non-finite target ranks last (cols - 1).
  twin.retrievalRank(scores, Uint32Array.from([2, 3, 2]), rank, shape);
  deepEqual(rank, Uint32Array.from([1, 0, 5]));
  twin.retrievalRank(scores, Uint32Array.from([0, 1, 0]), rank, shape);
  deepEqual(rank, Uint32Array.from([5, 5, 5]));
  deepEqual(twin.ranksBefore(-Infinity, 0, -1e30, 1), false);
  deepEqual(twin.ranksBefore(NaN, 0, Infinity, 1), true);
  deepEqual(twin.ranksBefore(0, 2, -0, 1), false);
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

gpuTest(
  "retrieval GPU ranks and top-k equal the twin's exactly (ties and NaN, ±Infinity included)",
  async (gpu) => {
    const rng = new Rng(1);
    const shapes = [[1, 1], [7, 7], [33, 257], [257, 33], [1000, 1000], [1, 100_000], [3000, 300]];
    for (const [rows, cols] of shapes) {
      for (const kind of ["normal", "tied", "tied non-finite"] as const) {
        // Tied: scores from 5 values, so most comparisons are ties; non-finite: one score in 4 is
        // NaN or ±Infinity (targets land on them too).
        const raw = Float64Array.from({ length: rows * cols }, () => {
          if (kind === "normal") return rng.normal();
          const r = rng.int(kind === "tied" ? 5 : 20);
          return r < 5 ? r / 4 : r < 15 ? (r - 5) / 40 : nonFinite(r - 15);
        });
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
        await gpu.run([...retrievalRank(gpu, gs, gt, gr, shape), ...topK(gpu, gs, gi, gv, shape)]);
        const [br, bi, bv] = await gpu.readBytes([gr, gi, gv]);
        const label = `${rows}x${cols} k=${k} ${kind}`;
        deepEqual(new Uint32Array(br), rank, `rank ${label}`);
        deepEqual(new Uint32Array(bi), idx, `top-k index ${label}`);
        deepStrictEqual(f64(new Float32Array(bv)), val, `top-k score ${label}`);
      }
    }
  },
);

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

gpuTest("retrieval GPU: NaN and ±Infinity rank last, like the twin", async (gpu) => {
  // Row 0 all non-finite, row 1 all tied at 0.5 but one NaN (payloads as NAN_BITS), rows 2-3
  // finite among non-finite, row 4 ±0 (tied) and denormals; k = cols, so every placeholder must
  // have been pushed out.
  const cols = 6, rows = 5, shape = { rows, cols, k: cols };
  const scores = Float32Array.from([
    ...[5, 3, 4, 0, 1, 2].map(nonFinite),
    ...[0.5, 0.5, nonFinite(1), 0.5, 0.5, 0.5],
    ...[Infinity, NaN, -3, -Infinity, 0.25, nonFinite(2)],
    ...[-Infinity, 1e-3, nonFinite(1), 1e-3, Infinity, -1e30],
    ...[0, -0, NaN, 1e-40, 0, -1e-40],
  ]);
  const target = Uint32Array.from([3, 2, 4, 0, 1]);
  const idx = new Uint32Array(rows * cols), val = new Float64Array(rows * cols);
  const rank = new Uint32Array(rows);
  twin.topK(f64(scores), idx, val, shape);
  twin.retrievalRank(f64(scores), target, rank, shape);
  deepEqual(Array.from(idx.subarray(0, cols)), [0, 1, 2, 3, 4, 5]);
  deepEqual(Array.from(idx.subarray(cols, 2 * cols)), [0, 1, 3, 4, 5, 2]);
  deepEqual(Array.from(idx.subarray(2 * cols, 3 * cols)), [4, 2, 0, 1, 3, 5]);
  deepEqual(Array.from(idx.subarray(3 * cols, 4 * cols)), [1, 3, 5, 0, 2, 4]);
  deepEqual(Array.from(idx.subarray(4 * cols)), [3, 0, 1, 4, 5, 2]);
  deepEqual(rank, Uint32Array.from([cols - 1, cols - 1, 0, cols - 1, 1]));

  const gs = gpu.storage(scores), gr = gpu.storage(rows);
  const gi = gpu.storage(rows * cols), gv = gpu.storage(rows * cols);
  await gpu.run([
    ...retrievalRank(gpu, gs, gpu.storage(target), gr, shape),
    ...topK(gpu, gs, gi, gv, shape),
  ]);
  const [br, bi, bv] = await gpu.readBytes([gr, gi, gv]);
  deepEqual(new Uint32Array(br), rank);
  deepEqual(new Uint32Array(bi), idx);
  deepStrictEqual(f64(new Float32Array(bv)), val);
});

gpuTest("retrieval GPU marks a target outside the row and rejects bad k", async (gpu) => {
  const scores = gpu.storage(Float32Array.from([1, 2, 3, 4, 5, 6]));
  const target = gpu.storage(Uint32Array.from([1, 3])), rank = gpu.storage(2);
  await gpu.run(retrievalRank(gpu, scores, target, rank, { rows: 2, cols: 3 }));
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
