import assert from "node:assert/strict";
import {
  LOSS_STRIDE,
  LOSS_TERMS,
  lossIndex,
  lossSlotsLength,
  lossTermsAt,
} from "../src/model/loss_readback.ts";

Deno.test("loss slots: term k of slot s sits LOSS_STRIDE floats after term k-1", () => {
  assert.equal(LOSS_STRIDE * 4 % 256, 0, "each term must be a bindable storage view");
  assert.equal(lossIndex(0, 0), 0);
  assert.equal(lossIndex(0, 1) - lossIndex(0, 0), LOSS_STRIDE);
  assert.equal(lossIndex(1, 0), LOSS_TERMS.length * LOSS_STRIDE);
  assert.equal(lossSlotsLength(3), 3 * LOSS_TERMS.length * LOSS_STRIDE);
  const values = new Float32Array(lossSlotsLength(2));
  LOSS_TERMS.forEach((_, k) => values[lossIndex(1, k)] = 10 + k);
  assert.deepEqual(lossTermsAt(values, 1), [10, 11, 12]);
  assert.deepEqual(lossTermsAt(values, 0), [0, 0, 0]);
});
