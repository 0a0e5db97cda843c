import { assert, assertEquals, assertRejects } from "node:assert/strict";
import { join } from "node:path";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { type EmbeddingSet, saveEmbeddings } from "../src/io/embeddings.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
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

function options(logs: string, overrides: Partial<TrainOptions> = {}): Partial<TrainOptions> & {
  trainData: EmbeddingSet;
} {
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
      assert(
        after[`${dir}_R@1`] > before[`${dir}_R@1`] + 0.2,
        `${dir}_R@1 ${before[`${dir}_R@1`]} -> ${after[`${dir}_R@1`]}`,
      );
    }
    assert(losses[losses.length - 1] < 0.7 * losses[0], `loss ${losses[0]} -> ${losses.at(-1)}`);
    const results = (await Deno.readTextFile(join(r.logDir, "results.jsonl"))).trim().split("\n");
    assertEquals(results.length, 9);
    await Deno.stat(join(r.logDir, "checkpoints", "best.safetensors"));
    await Deno.stat(join(r.logDir, "params.json"));
    await Deno.remove(logs, { recursive: true });
  },
);

gpuTest("stopping after 2 epochs and resuming to 4 equals 4 epochs, bit for bit", async (gpu) => {
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  await train(options(a), { gpu });
  await train(options(b, { epochs: 2 }), { gpu });
  await train(options(b, { resume: "latest" }), { gpu });
  const latest = (dir: string) =>
    loadCheckpoint(join(dir, "run", "checkpoints", "epoch_latest.safetensors"));
  const [ca, cb] = [await latest(a), await latest(b)];
  assertEquals(cb.position, ca.position);
  assertEquals(cb.params, ca.params);
  assertEquals(cb.m, ca.m);
  assertEquals(cb.v, ca.v);
  for (const d of [a, b]) await Deno.remove(d, { recursive: true });
});

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
  assertEquals(straight.code, 0, new TextDecoder().decode(straight.stderr));

  const child = cli("killed", []).spawn();
  const latest = join(dir, "killed", "checkpoints", "epoch_latest.safetensors");
  for (let i = 0; i < 600; i++) {
    const step = await loadCheckpoint(latest).then((c) => c.position.optimizerStep).catch(() => 0);
    if (step >= 5) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  assert(!status.success, "the run finished before it could be killed; make it longer");
  const killedAt = (await loadCheckpoint(latest)).position.optimizerStep;
  assert(killedAt > 0 && killedAt < 3 * 16, `killed at step ${killedAt}`);

  const resumed = await cli("killed", ["--resume", "latest"]).output();
  assertEquals(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
  const s = await loadCheckpoint(join(dir, "straight", "checkpoints", "epoch_latest.safetensors"));
  const k = await loadCheckpoint(latest);
  assertEquals(k.position.optimizerStep, s.position.optimizerStep);
  assertEquals(k.params, s.params);
  assertEquals(k.m, s.m);
  await Deno.remove(dir, { recursive: true });
});

gpuTest("bad input gets a clear error", async (gpu) => {
  const logs = await Deno.makeTempDir();
  await assertRejects(
    () => train(options(logs, { batchSize: 10_000 }), { gpu }),
    Error,
    "--batch-size 10000 is larger than the",
  );
  const noVal = { ...set, split: set.split.map((s) => (s === 1 ? 0 : s)) };
  await assertRejects(
    () => train(options(logs, { trainData: noVal }), { gpu }),
    Error,
    "no validation rows",
  );
  const nan = { ...set, image: set.image.slice() };
  nan.image[5 * set.dim + 3] = NaN;
  await assertRejects(
    () => train(options(logs, { trainData: nan }), { gpu }),
    Error,
    `"image" row 5 (id ${set.ids[5]}) holds NaN at column 3`,
  );
  await train(options(logs, { epochs: 1 }), { gpu });
  await assertRejects(
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
  const huge = { ...set, image: set.image.map((x) => x * 1e37) };
  await assertRejects(
    () => train(options(logs, { trainData: huge, name: "diverge" }), { gpu }),
    DivergedError,
    "non-finite loss at step 1",
  );
  await assertRejects(() =>
    Deno.stat(join(logs, "diverge", "checkpoints", "epoch_latest.safetensors"))
  );
  await Deno.remove(logs, { recursive: true });
});
