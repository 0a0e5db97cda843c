import assert from "node:assert/strict";
import type { TrainPosition } from "../src/model/checkpoint.ts";
import { type CheckpointOptions, CheckpointPolicy } from "../src/train/checkpoint_policy.ts";
import { RunDir } from "../src/train/run_dir.ts";

const options: CheckpointOptions = {
  saveFrequency: 2,
  saveEveryNSteps: 3,
  valMetric: "mean_recall",
  earlyStopping: 2,
};

/** Runs `fn` with the policy of a run in a fresh temporary log directory. */
async function withPolicy(
  o: CheckpointOptions,
  fn: (policy: CheckpointPolicy, run: RunDir) => void,
): Promise<void> {
  const logs = await Deno.makeTempDir();
  try {
    const run = await RunDir.create(logs, "run", true);
    fn(new CheckpointPolicy(run, o, 7), run);
  } finally {
    await Deno.remove(logs, { recursive: true });
  }
}

function at(epoch: number, stepInEpoch: number, stepsPerEpoch: number): TrainPosition {
  return {
    epoch,
    stepInEpoch,
    optimizerStep: epoch * stepsPerEpoch + stepInEpoch,
    best: { metric: "mean_recall", value: -Infinity, epoch: -1 },
    epochsWithoutImprovement: 0,
  };
}

Deno.test("checkpoint policy: chunks end at the epoch's end and where epoch_latest is due", async () => {
  await withPolicy(options, (policy) => {
    // Walk two epochs of 7 steps in chunks of up to 4: every cut is a save point or an epoch end.
    const cuts: number[] = [], saves: number[] = [];
    for (const p = at(0, 0, 7); p.epoch < 2;) {
      const n = policy.chunkLength(p, 4);
      assert.ok(n >= 1 && n <= 4, `chunk of ${n} at step ${p.optimizerStep}`);
      p.stepInEpoch += n;
      p.optimizerStep += n;
      cuts.push(p.optimizerStep);
      if (policy.savesMidEpoch(p)) saves.push(p.optimizerStep);
      if (p.stepInEpoch === 7) [p.epoch, p.stepInEpoch] = [p.epoch + 1, 0];
    }
    assert.deepEqual(cuts, [3, 6, 7, 9, 12, 14]);
    // Multiples of 3 inside an epoch; the epoch ends (7, 14) write their own checkpoints.
    assert.deepEqual(saves, [3, 6, 9, 12]);
  });
  await withPolicy({ ...options, saveEveryNSteps: 0 }, (off) => {
    assert.equal(off.chunkLength(at(0, 5, 7), 4), 2);
    assert.equal(off.savesMidEpoch(at(0, 3, 7)), false);
  });
});

Deno.test("checkpoint policy: best, epoch_N and latest at the end of an epoch, latest last", async () => {
  await withPolicy(options, (policy) => {
    const p = at(1, 0, 7);
    assert.equal(policy.judge(p, { mean_recall: 0.2 }), true);
    assert.deepEqual(p.best, { metric: "mean_recall", value: 0.2, epoch: 1 });
    assert.deepEqual(policy.epochEnd(p, true), ["best", "epoch_latest"]);
    p.epoch = 2;
    assert.equal(policy.judge(p, { mean_recall: 0.2 }), false, "equal is no improvement");
    assert.deepEqual(policy.epochEnd(p, false), ["epoch_2", "epoch_latest"]);
    assert.equal(policy.stopsEarly(p), false);
    p.epoch = 3;
    policy.judge(p, { mean_recall: 0.1 });
    assert.equal(p.epochsWithoutImprovement, 2);
    assert.equal(policy.stopsEarly(p), true);
    assert.deepEqual(p.best.epoch, 1);
    assert.throws(
      () => policy.judge(p, { "image_to_text_R@1": 0.5 }),
      /--val-metric mean_recall is not one of image_to_text_R@1/,
    );
  });
});

Deno.test("checkpoint policy: --resume latest is this run's epoch_latest, a path is itself", async () => {
  await withPolicy(options, (policy, run) => {
    assert.equal(policy.resumePath("latest"), run.checkpoint("epoch_latest"));
    assert.equal(policy.resumePath("/x/epoch_3.safetensors"), "/x/epoch_3.safetensors");
    assert.equal(policy.resumePath(null), null);
  });
});
