import { deepEqual, throws } from "node:assert/strict";
import { gatherRows } from "../src/ops/gather.ts";
import * as twin from "../src/reference/gather.ts";
import { gpuTest, Rng } from "./util/check.ts";

/** Random 32-bit words: NaN payloads, -0, denormals and infinities among them as f32. */
function words(rng: Rng, n: number): Uint32Array<ArrayBuffer> {
  const w = Uint32Array.from({ length: n }, () => rng.nextU32());
  const special = [0x7fc00001, 0xffbfffff, 0x80000000, 0x00000001, 0x7f800000, 0xff800000];
  special.forEach((s, k) => {
    if (k < n) w[k] = s;
  });
  return w;
}

Deno.test("gather twin copies rows and rejects bad shapes and indices clearly", () => {
  const src = Float64Array.from({ length: 12 }, (_, i) => i); // 4 rows of 3
  const dst = new Float64Array(6);
  twin.gatherRows(src, Uint32Array.from([9, 3, 0]), dst, { rows: 2, dim: 3, offset: 1 });
  deepEqual(dst, Float64Array.from([9, 10, 11, 0, 1, 2]));
  const idx = Uint32Array.from([0, 1]);
  throws(
    () => twin.gatherRows(src, idx, dst, { rows: 2, dim: 5, offset: 0 }),
    /gather_rows: src has 12 elements, expected a whole number \(>= 1\) of rows of 5/,
  );
  throws(
    () => twin.gatherRows(src, idx, dst, { rows: 2, dim: 3, offset: 1 }),
    /gather_rows: index has 2 elements, expected at least offset \+ rows = 3/,
  );
  throws(
    () => twin.gatherRows(src, idx, dst, { rows: 3, dim: 2, offset: 0 }),
    /gather_rows: index has 2 elements/,
  );
  throws(
    () => twin.gatherRows(src, idx, new Float64Array(5), { rows: 2, dim: 3, offset: 0 }),
    /gather_rows: dst has 5 elements, expected at least rows \* dim = 6/,
  );
  throws(
    () => twin.gatherRows(src, Uint32Array.from([4]), dst, { rows: 1, dim: 3, offset: 0 }),
    /gather_rows: index\[0\] = 4, src has 4 rows/,
  );
  throws(() => twin.gatherRows(src, idx, dst, { rows: 0, dim: 3, offset: 0 }), /rows must be/);
});

gpuTest(
  "gather GPU is a bit-exact copy, same as the twin (f32 words and i32 labels)",
  async (gpu) => {
    const rng = new Rng(1);
    const cases = [
      { srcRows: 1, rows: 1, dim: 1, offset: 0 },
      { srcRows: 10, rows: 7, dim: 7, offset: 3 },
      { srcRows: 40, rows: 33, dim: 33, offset: 5 },
      { srcRows: 300, rows: 257, dim: 512, offset: 0 },
      { srcRows: 3000, rows: 1000, dim: 1, offset: 1000 },
      { srcRows: 10_000, rows: 8200, dim: 512, offset: 17 }, // 4.2M words
    ];
    for (const { srcRows, rows, dim, offset } of cases) {
      const shape = { rows, dim, offset };
      const src = words(rng, srcRows * dim);
      const index = Uint32Array.from({ length: offset + rows + 2 }, () => rng.int(srcRows));
      const expected = new Uint32Array(rows * dim);
      twin.gatherRows(src, index, expected, shape);

      const asF32 = new Float32Array(src.buffer), asI32 = new Int32Array(src.buffer);
      const gi = gpu.storage(index), gf = gpu.storage(asF32), gl = gpu.storage(asI32);
      const df = gpu.storage(rows * dim), dl = gpu.storage(rows * dim);
      await gpu.run([...gatherRows(gpu, gf, gi, df, shape), ...gatherRows(gpu, gl, gi, dl, shape)]);
      const [rf, rl] = (await gpu.readBytes([df, dl])).map((b) => new Uint32Array(b));
      const label = `${srcRows} rows -> ${rows}x${dim} from ${offset}`;
      const bad = rf.findIndex((w, i) => w !== expected[i] || rl[i] !== expected[i]);
      if (bad >= 0) {
        throw new Error(
          `${label}: word ${bad} is ${rf[bad]} / ${rl[bad]}, expected ${expected[bad]}`,
        );
      }
    }
  },
);

gpuTest("gather GPU writes zeros for an index outside src", async (gpu) => {
  const src = gpu.storage(Float32Array.from([1, 2, 3, 4])), dst = gpu.storage(6);
  const index = gpu.storage(Uint32Array.from([1, 2, 0]));
  await gpu.run(gatherRows(gpu, src, index, dst, { rows: 3, dim: 2, offset: 0 }));
  deepEqual(await gpu.read(dst), Float32Array.from([3, 4, 0, 0, 1, 2]));
});

gpuTest("gather GPU rejects bad shapes with clear errors", (gpu) => {
  const src = gpu.storage(12), index = gpu.storage(4), dst = gpu.storage(6);
  throws(
    () => gatherRows(gpu, src, index, dst, { rows: 2, dim: 5, offset: 0 }),
    /gather_rows: src has 12 elements, expected a whole number \(>= 1\) of rows of 5/,
  );
  throws(
    () => gatherRows(gpu, src, index, dst, { rows: 2, dim: 3, offset: 3 }),
    /gather_rows: index has 4 elements, expected at least offset \+ rows = 5/,
  );
  throws(
    () => gatherRows(gpu, src, index, dst, { rows: 3, dim: 3, offset: 0 }),
    /gather_rows: dst has 6 elements, expected at least rows \* dim = 9/,
  );
});
