import assert from "node:assert/strict";
import { join } from "node:path";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { saveEmbeddings } from "../src/io/embeddings.ts";
import { loadCheckpoint } from "../src/model/checkpoint.ts";
import { readResults } from "../src/train/results_log.ts";
import { DivergedError, train, type TrainOptions } from "../src/train/trainer.ts";
import { gpuTest } from "./util/check.ts";

const set = syntheticEmbeddings({
  count: 640,
  dim: 32,
  latent: 8,
  noise: 0.3,
  validation: 0.2,
  test: 0.1,
  seed: 3,
});

/** Asserts that `fn` rejects with an error of class `type` whose message contains `text`. */
async function rejectsWith(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => Error,
  text: string,
): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.ok((e as Error).message.includes(text), `"${(e as Error).message}" lacks "${text}"`);
    return true;
  });
}

function options(
  logs: string,
  overrides: Partial<TrainOptions> = {},
): Partial<TrainOptions> & Pick<TrainOptions, "trainData"> {
  return {
    trainData: set,
    batchSize: 64,
    epochs: 4,
    lr: 3e-3,
    warmup: 4,
    logs,
    name: "run",
    logEveryNSteps: 3,
    head: { hidden: 32, outDim: 16, layers: 2, dropout: 0.1 },
    quiet: true,
    ...overrides,
  };
}

gpuTest(
  "training on learnable synthetic pairs raises validation R@1 and lowers the loss",
  async (gpu) => {
    const logs = await Deno.makeTempDir();
    const losses: number[] = [];
    const r = await train(options(logs, { epochs: 8 }), {
      gpu,
      onProgress: (p) => losses.push(p.loss),
    });
    const before = r.history[0].val, after = r.best;
    for (const dir of ["image_to_text", "text_to_image"]) {
      assert.ok(
        after[`${dir}_R@1`] > before[`${dir}_R@1`] + 0.2,
        `${dir}_R@1 ${before[`${dir}_R@1`]} -> ${after[`${dir}_R@1`]}`,
      );
    }
    assert.ok(losses[losses.length - 1] < 0.7 * losses[0], `loss ${losses[0]} -> ${losses.at(-1)}`);
    const results = (await Deno.readTextFile(join(r.logDir, "results.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(results.map((l) => l.epoch), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // Flat, as open_clip writes it: the metrics beside the epoch.
    assert.deepEqual(results[8]["image_to_text_R@1"], r.history[8].val["image_to_text_R@1"]);
    assert.ok(typeof results[8].train_loss === "number" && !("val" in results[8]));
    await Deno.stat(join(r.logDir, "checkpoints", "best.safetensors"));
    await Deno.stat(join(r.logDir, "params.json"));
    await Deno.remove(logs, { recursive: true });
  },
);

gpuTest(
  "stopping after epoch 2 and resuming equals an uninterrupted run, bit for bit",
  async (gpu) => {
    const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
    await train(options(a), { gpu });
    const stepsPerEpoch = Math.floor(set.split.filter((s) => s === 0).length / 64);
    const stop = new Error("stopped by the test");
    await assert.rejects(
      () =>
        train(options(b), {
          gpu,
          onProgress: (p) => {
            if (p.step > 2 * stepsPerEpoch) throw stop;
          },
        }),
      (e) => e === stop,
    );
    await train(options(b, { resume: "latest" }), { gpu });
    const epochs = async (dir: string) =>
      (await readResults(join(dir, "run", "results.jsonl"))).map((h) => h.epoch);
    assert.deepEqual(await epochs(b), [0, 1, 2, 3, 4]);
    const latest = (dir: string) =>
      loadCheckpoint(join(dir, "run", "checkpoints", "epoch_latest.safetensors"));
    const [ca, cb] = [await latest(a), await latest(b)];
    assert.deepEqual(cb.position, ca.position);
    assert.deepEqual(cb.params, ca.params);
    assert.deepEqual(cb.m, ca.m);
    assert.deepEqual(cb.v, ca.v);
    // Resuming from an earlier checkpoint drops the results of the epochs it trains again.
    const epoch2 = join(b, "run", "checkpoints", "epoch_2.safetensors");
    await train(options(b, { resume: epoch2, epochs: 3 }), { gpu });
    assert.deepEqual(await epochs(b), [0, 1, 2, 3]);
    for (const d of [a, b]) await Deno.remove(d, { recursive: true });
  },
);

gpuTest("kill -9 mid-epoch, then --resume latest: identical to an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  const data = join(dir, "embeddings.safetensors");
  await saveEmbeddings(data, set);
  const cli = (name: string, extra: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../src/cli/train.ts", import.meta.url).pathname,
        "--train-data",
        data,
        "--batch-size",
        "32",
        "--epochs",
        "3",
        "--hidden",
        "32",
        "--out-dim",
        "16",
        "--log-every-n-steps",
        "1",
        "--save-every-n-steps",
        "2",
        "--logs",
        dir,
        "--name",
        name,
        "--quiet",
        ...extra,
      ],
      stdout: "null",
      stderr: "piped",
    });
  const straight = await cli("straight", []).output();
  assert.deepEqual(straight.code, 0, new TextDecoder().decode(straight.stderr));

  const child = cli("killed", []).spawn();
  const latest = join(dir, "killed", "checkpoints", "epoch_latest.safetensors");
  for (let i = 0; i < 600; i++) {
    const step = await loadCheckpoint(latest).then((c) => c.position.optimizerStep).catch(() => 0);
    if (step >= 5) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  assert.ok(!status.success, "the run finished before it could be killed; make it longer");
  const killedAt = (await loadCheckpoint(latest)).position.optimizerStep;
  assert.ok(killedAt > 0 && killedAt < 3 * 16, `killed at step ${killedAt}`);

  const resumed = await cli("killed", ["--resume", "latest"]).output();
  assert.deepEqual(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
  const s = await loadCheckpoint(join(dir, "straight", "checkpoints", "epoch_latest.safetensors"));
  const k = await loadCheckpoint(latest);
  assert.deepEqual(k.position.optimizerStep, s.position.optimizerStep);
  assert.deepEqual(k.params, s.params);
  assert.deepEqual(k.m, s.m);
  await Deno.remove(dir, { recursive: true });
});

gpuTest("bad input gets a clear error", async (gpu) => {
  const logs = await Deno.makeTempDir();
  await rejectsWith(
    () => train(options(logs, { batchSize: 10_000 }), { gpu }),
    Error,
    "--batch-size 10000 is larger than the",
  );
  const noVal = { ...set, split: set.split.map((s) => (s === 1 ? 0 : s)) };
  await rejectsWith(
    () => train(options(logs, { trainData: noVal }), { gpu }),
    Error,
    "no validation rows",
  );
  const nan = { ...set, image: set.image.slice() };
  nan.image[5 * set.dim + 3] = NaN;
  await rejectsWith(
    () => train(options(logs, { trainData: nan }), { gpu }),
    Error,
    `"image" row 5 (id ${set.ids[5]}) holds NaN at column 3`,
  );
  await train(options(logs, { epochs: 1 }), { gpu });
  await rejectsWith(
    () =>
      train(
        options(logs, {
          resume: "latest",
          head: { hidden: 48, outDim: 16, layers: 2, dropout: 0.1 },
        }),
        {
          gpu,
        },
      ),
    Error,
    "checkpoint was trained with hidden=32, this run has hidden=48",
  );
  await rejectsWith(
    () => train(options(logs, { resume: "latest", batchSize: 32 }), { gpu }),
    Error,
    `${join(logs, "run", "checkpoints", "epoch_latest.safetensors")}: cannot resume, the ` +
      "checkpoint was trained with other options: batchSize (--batch-size): checkpoint 64, " +
      "this run 32",
  );
  // New data under the same checkpoint: the heads keep the input statistics they were trained on.
  const shifted = { ...set, image: set.image.map((x) => x + 0.5) };
  const ckpt = join(logs, "run", "checkpoints", "epoch_latest.safetensors");
  const stored = (await loadCheckpoint(ckpt)).inputNorm;
  await train(options(logs, { resume: "latest", epochs: 2, trainData: shifted }), { gpu });
  assert.deepEqual((await loadCheckpoint(ckpt)).inputNorm, stored);
  const out = await Deno.readTextFile(join(logs, "run", "out.log"));
  assert.ok(out.includes(`Resuming with the input statistics stored in ${ckpt}`), out);
  // A run that diverges stops with the step number and leaves the last good checkpoint as it was.
  await train(options(logs, { name: "diverge", epochs: 1 }), { gpu });
  const latest = join(logs, "diverge", "checkpoints", "epoch_latest.safetensors");
  const good = await loadCheckpoint(latest);
  await rejectsWith(
    () => train(options(logs, { name: "diverge", resume: "latest", lr: 1e38 }), { gpu }),
    DivergedError,
    "non-finite loss at step",
  );
  assert.deepEqual((await loadCheckpoint(latest)).params, good.params);
  await Deno.remove(logs, { recursive: true });
});
