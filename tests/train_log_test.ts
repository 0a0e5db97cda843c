import assert from "node:assert/strict";
import { join } from "node:path";
import { readResults, writeResults } from "../src/train/results_log.ts";
import { RunDir } from "../src/train/run_dir.ts";
import { TrainLog, type TrainProgress } from "../src/train/train_log.ts";

const plan = { batchSize: 16, stepsPerEpoch: 4, totalSteps: 8, lr: (s: number) => 1e-3 * (s + 1) };
const val = (x: number) => ({ mean_recall: x });

Deno.test("run dir: out.log gets every line, params.json the config, checkpoints their folder", async () => {
  const logs = await Deno.makeTempDir();
  const run = await RunDir.create(logs, "demo", true);
  assert.equal(run.path, join(logs, "demo"));
  assert.equal(run.checkpoint("best"), join(logs, "demo", "checkpoints", "best.safetensors"));
  assert.ok((await Deno.stat(join(logs, "demo", "checkpoints"))).isDirectory);
  await run.log("first");
  await run.log("second", true);
  assert.equal(await Deno.readTextFile(join(run.path, "out.log")), "first\nsecond\n");
  await run.writeParams({ lr: 0.001, head: { hidden: 8 } });
  const params = await Deno.readTextFile(join(run.path, "params.json"));
  assert.deepEqual(JSON.parse(params), { lr: 0.001, head: { hidden: 8 } });
  await Deno.remove(logs, { recursive: true });
});

Deno.test("train log: Train and Eval lines, progress reports, the epoch's mean loss", async () => {
  const logs = await Deno.makeTempDir();
  const run = await RunDir.create(logs, "demo", true);
  const reports: TrainProgress[] = [];
  const log = await TrainLog.open(run, null, plan, (p) => reports.push(p));
  await log.result({ epoch: 0, step: 0, val: val(0.1) });
  log.begin(0);
  await log.steps(0, null); // nothing read back yet
  await log.steps(0, { last: 3, steps: 3, loss: 2, terms: { clip: 1, supcon: 2, bce: 0.5 } });
  await log.steps(0, { last: 4, steps: 1, loss: 6, terms: { clip: 3, supcon: 4, bce: 1 } });
  const trainLoss = log.epochLoss();
  assert.equal(trainLoss, (3 * 2 + 6) / 4, "weighted by the steps of each chunk");
  await log.result({ epoch: 1, step: 4, trainLoss, val: val(0.2) });
  log.done();

  assert.deepEqual(reports.map((p) => [p.epoch, p.step, p.totalSteps, p.loss]), [
    [0, 3, 8, 2],
    [0, 4, 8, 6],
  ]);
  assert.ok(reports.every((p) => p.samplesPerSecond > 0 && p.etaSeconds >= 0));
  const lines = (await Deno.readTextFile(join(run.path, "out.log"))).trim().split("\n")
    .map((l) => l.replace(/\] [\d.]+\/s/, "] R/s"));
  assert.deepEqual(lines, [
    "Eval Epoch: 0 mean_recall: 0.1000",
    "Train Epoch: 0 [     48/64 (75%)] R/s LR: 3.000e-3 Clip_loss: 1.0000 Supcon_loss: 2.0000 " +
    "Bce_loss: 0.5000 Loss: 2.0000",
    "Train Epoch: 0 [     64/64 (100%)] R/s LR: 4.000e-3 Clip_loss: 3.0000 Supcon_loss: 4.0000 " +
    "Bce_loss: 1.0000 Loss: 6.0000",
    "Eval Epoch: 1 mean_recall: 0.2000",
  ]);
  assert.deepEqual(await readResults(run.results), log.history);
  assert.deepEqual(log.history.map((h) => h.epoch), [0, 1]);
  await Deno.remove(logs, { recursive: true });
});

Deno.test("train log: a resumed run keeps the results up to its epoch; a new run none", async () => {
  const logs = await Deno.makeTempDir();
  const run = await RunDir.create(logs, "demo", true);
  const old = [0, 1, 2, 3].map((epoch) => ({ epoch, step: 4 * epoch, val: val(epoch / 10) }));
  await writeResults(run.results, old);
  const resumed = await TrainLog.open(run, 2, plan);
  assert.deepEqual(resumed.history, old.slice(0, 3));
  assert.deepEqual(await readResults(run.results), old.slice(0, 3));
  const fresh = await TrainLog.open(run, null, plan);
  assert.deepEqual(fresh.history, []);
  assert.equal(await Deno.readTextFile(run.results), "");
  await Deno.remove(logs, { recursive: true });
});
