import assert from "node:assert/strict";
import { join } from "node:path";
import {
  appendResult,
  type EpochResult,
  parseResultLine,
  readResults,
  resultLine,
  writeResults,
} from "../src/train/results_log.ts";

const r: EpochResult = {
  epoch: 3,
  step: 45,
  trainLoss: 1.25,
  val: { "image_to_text_R@1": 0.5, text_to_image_mean_rank: 7.5, mean_recall: 0.25 },
};

Deno.test("results.jsonl: one flat line per evaluation, epoch beside the metrics (open_clip's)", () => {
  const line = JSON.parse(resultLine(r));
  assert.deepEqual(line, {
    epoch: 3,
    step: 45,
    train_loss: 1.25,
    "image_to_text_R@1": 0.5,
    text_to_image_mean_rank: 7.5,
    mean_recall: 0.25,
  });
  assert.deepEqual(parseResultLine(resultLine(r), "x"), r);
  const before = { epoch: 0, step: 0, val: { "image_to_text_R@1": 0.1 } };
  assert.deepEqual(JSON.parse(resultLine(before)), { epoch: 0, step: 0, "image_to_text_R@1": 0.1 });
  assert.deepEqual(parseResultLine(resultLine(before), "x"), before);
});

Deno.test("results.jsonl: older nested lines are read; bad lines name the file and line", async () => {
  const legacy = JSON.stringify({ epoch: 3, step: 45, trainLoss: 1.25, val: r.val });
  assert.deepEqual(parseResultLine(legacy, "x"), r);
  const dir = await Deno.makeTempDir();
  const path = join(dir, "results.jsonl");
  assert.deepEqual(await readResults(path), []);
  await writeResults(path, [r]);
  await appendResult(path, { ...r, epoch: 4 });
  assert.deepEqual((await readResults(path)).map((x) => x.epoch), [3, 4]);
  await Deno.writeTextFile(path, '{"epoch": 5, "step": 1, "image_to_text_R@1": "high"}\n', {
    append: true,
  });
  await assert.rejects(
    () => readResults(path),
    new Error(`${path}:3: metric "image_to_text_R@1" must be a number, is "high"`),
  );
  assert.throws(() => parseResultLine('{"step": 1}', "r:9"), /r:9: "epoch" must be an integer/);
  assert.throws(() => parseResultLine("{", "r:2"), /r:2: not JSON/);
  await Deno.remove(dir, { recursive: true });
});
