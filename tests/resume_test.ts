import assert from "node:assert/strict";
import { DEFAULT_TRAIN_OPTIONS } from "../src/train/trainer.ts";
import { assertResumable, normDifference } from "../src/train/resume.ts";

const config = JSON.parse(JSON.stringify(DEFAULT_TRAIN_OPTIONS));

Deno.test("resume: the same options pass; the epochs and the learning rate may change", () => {
  assertResumable(config, { ...DEFAULT_TRAIN_OPTIONS, epochs: 99, lr: 1e-5 }, "c.safetensors");
});

Deno.test("resume: another batch size, loss weight or input norm is refused, naming each", () => {
  const run = {
    ...DEFAULT_TRAIN_OPTIONS,
    batchSize: 32,
    loss: { ...DEFAULT_TRAIN_OPTIONS.loss, wBce: 0 },
    inputNorm: "none",
  };
  assert.throws(() => assertResumable(config, run, "ckpt/epoch_3.safetensors"), (e: Error) => {
    const want = [
      "ckpt/epoch_3.safetensors: cannot resume",
      "batchSize (--batch-size): checkpoint 256, this run 32",
      "loss.wBce (--w-bce): checkpoint 0.5, this run 0",
      'inputNorm (--input-norm): checkpoint "standard", this run "none"',
    ];
    for (const w of want) assert.ok(e.message.includes(w), `${e.message}\nlacks\n${w}`);
    assert.ok(!e.message.includes("wClip"), e.message);
    return true;
  });
  assert.throws(
    () => assertResumable({}, DEFAULT_TRAIN_OPTIONS, "bare.safetensors"),
    /batchSize \(--batch-size\): checkpoint not recorded, this run 256/,
  );
});

Deno.test("resume: normDifference is the largest gap between two input statistics", () => {
  const norm = (x: number) => {
    const m = { mean: new Float32Array([0, x]), std: new Float32Array([1, 1]) };
    return { image: m, text: m };
  };
  assert.equal(normDifference(norm(0.5), norm(0.5)), 0);
  assert.equal(normDifference(norm(0.5), norm(0.25)), 0.25);
});
