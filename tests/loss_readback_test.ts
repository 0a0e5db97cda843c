import assert from "node:assert/strict";
import {
  DivergedError,
  LOSS_STRIDE,
  LOSS_TERMS,
  lossIndex,
  LossReadback,
  lossSlotsLength,
  lossTermsAt,
} from "../src/model/loss_readback.ts";
import { gpuTest } from "./util/check.ts";

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

/** Loss slots holding `steps[i]` (CLIP, SupCon, BCE) in slot `i`. */
function slotValues(steps: number[][]): Float32Array<ArrayBuffer> {
  const values = new Float32Array(lossSlotsLength(steps.length));
  steps.forEach((terms, s) => terms.forEach((t, k) => values[lossIndex(s, k)] = t));
  return values;
}

gpuTest(
  "loss read-back: chunks alternate halves; each drain gives its chunk's means",
  async (gpu) => {
    const weights = { wClip: 1, wSupcon: 0.5, wBce: 0.5 };
    const losses = gpu.storage(lossSlotsLength(LossReadback.slots(2)), "loss slots");
    const readback = new LossReadback(gpu, losses, 2, weights);
    assert.equal(await readback.drain(), null, "nothing in flight yet");
    assert.deepEqual([readback.slot(0), readback.slot(1)], [0, 1]);
    // As if steps 1 and 2 wrote slots 0 and 1.
    gpu.write(losses, slotValues([[1, 2, 3], [3, 2, 1], [0, 0, 0], [0, 0, 0]]));
    readback.start(1, 2);
    assert.throws(() => readback.start(3, 1), /previous chunk is not drained/);
    assert.deepEqual([readback.slot(0), readback.slot(1)], [2, 3], "the next chunk: other half");
    const first = await readback.drain();
    // Weighted: 1 + 0.5·2 + 0.5·3 = 3.5 and 3 + 0.5·2 + 0.5·1 = 4.5.
    assert.deepEqual(first, { last: 2, steps: 2, loss: 4, terms: { clip: 2, supcon: 2, bce: 2 } });
    // Step 3 writes slot 2; slot 0 keeps step 1's losses, which must not be read again.
    gpu.write(losses, slotValues([[1, 2, 3], [3, 2, 1], [4, 0, 2], [0, 0, 0]]));
    readback.start(3, 1);
    assert.deepEqual(await readback.drain(), {
      last: 3,
      steps: 1,
      loss: 5,
      terms: { clip: 4, supcon: 0, bce: 2 },
    });
    assert.equal(readback.slot(0), 0, "back to the first half");
  },
);

gpuTest("loss read-back: a non-finite loss stops the run, naming its step", async (gpu) => {
  const weights = { wClip: 1, wSupcon: 0, wBce: 1 };
  const losses = gpu.storage(slotValues([[1, 0, 1], [1, 0, Infinity], [0, 0, 0], [0, 0, 0]]));
  const readback = new LossReadback(gpu, losses, 2, weights);
  readback.start(41, 2);
  await assert.rejects(() => readback.drain(), (e: unknown) => {
    assert.ok(e instanceof DivergedError, `expected DivergedError, got ${e}`);
    assert.equal(e.step, 42);
    assert.match(e.message, /non-finite loss at step 42 \(clip 1, supcon 0, bce Infinity\)/);
    return true;
  });
});
