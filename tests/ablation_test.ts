// `deno task eval --ablate` / `--seeds`: the four loss configurations, one budget, runs reused and
// resumed, mean ± sample std over seeds, and screening left out where no BCE term trained it.

import assert from "node:assert/strict";
import { join } from "node:path";
import { runEval } from "../src/cli/eval.ts";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { ABLATION_CONFIGS, runOptions, trainAblation } from "../src/eval/ablation.ts";
import { evalTable } from "../src/eval/eval_output.ts";
import { type EvalResult, type EvalRow, evaluate } from "../src/eval/evaluate_models.ts";
import { collapseSeeds, meanStd } from "../src/eval/seed_stats.ts";
import { saveEmbeddings } from "../src/io/embeddings.ts";
import { loadCheckpoint } from "../src/model/checkpoint.ts";
import { DEFAULT_LOSS } from "../src/model/config.ts";
import { train } from "../src/train/trainer.ts";
import { gpuTest } from "./util/check.ts";

const set = syntheticEmbeddings({
  count: 160,
  dim: 8,
  latent: 4,
  noise: 0.3,
  validation: 0.2,
  test: 0.25,
  seed: 5,
});

/** Runs `fn` with `set` saved as `<dir>/e.safetensors` in a temporary folder, removed after. */
async function withEmbeddings(fn: (dir: string, embeddings: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const embeddings = join(dir, "e.safetensors");
    await saveEmbeddings(embeddings, set);
    await fn(dir, embeddings);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const row = (name: string, source: string, metrics: EvalRow["metrics"]): EvalRow => ({
  name,
  kind: source === "" ? "encoder" : "checkpoint",
  source,
  metrics,
});

const result = (rows: EvalRow[]): EvalResult => ({
  definitions: "cxr-eval/1",
  tieRule: "pessimistic",
  unit: "study",
  embeddings: "e.safetensors",
  synthetic: true,
  split: "test",
  count: 10,
  relevance: ["label"],
  screeningThreshold: 0.5,
  notes: [],
  rows,
});

Deno.test("ablation configs: the paper's four, dropped terms at 0, the rest DEFAULT_LOSS", () => {
  const { wClip, wSupcon, wBce, temperature } = DEFAULT_LOSS;
  assert.deepEqual(
    ABLATION_CONFIGS.map((c) => [c.name, c.folder, c.loss]),
    [
      ["CLIP", "clip", { wClip, wSupcon: 0, wBce: 0, temperature }],
      ["CLIP+SupCon", "clip-supcon", { wClip, wSupcon, wBce: 0, temperature }],
      ["CLIP+BCE", "clip-bce", { wClip, wSupcon: 0, wBce, temperature }],
      ["CLIP+SupCon+BCE", "clip-supcon-bce", DEFAULT_LOSS],
    ],
  );
});

Deno.test("meanStd: mean and sample std (n − 1) on hand-made values", () => {
  const { mean, std } = meanStd([
    { "image_to_text_label_P@10": 0.5, "text_to_image_R@1": 0.1, only_here: 1 },
    { "image_to_text_label_P@10": 0.7, "text_to_image_R@1": 0.1 },
    { "image_to_text_label_P@10": 0.9, "text_to_image_R@1": 0.4 },
  ]);
  assert.deepEqual(Object.keys(mean), ["image_to_text_label_P@10", "text_to_image_R@1"]);
  assert.ok(Math.abs(mean["image_to_text_label_P@10"] - 0.7) < 1e-12);
  // √((0.2² + 0² + 0.2²) / 2) = 0.2
  assert.ok(Math.abs(std!["image_to_text_label_P@10"] - 0.2) < 1e-12);
  assert.ok(Math.abs(mean["text_to_image_R@1"] - 0.2) < 1e-12);
  // √((0.1² + 0.1² + 0.2²) / 2) = √0.03
  assert.ok(Math.abs(std!["text_to_image_R@1"] - Math.sqrt(0.03)) < 1e-12);
  assert.deepEqual(meanStd([{ a: 0.25 }]), { mean: { a: 0.25 } }, "one seed: no std");
  assert.ok(Number.isNaN(meanStd([{ a: NaN }, { a: 1 }]).mean.a));
  assert.throws(() => meanStd([]), /no seed's metrics/);
});

Deno.test("collapseSeeds: a group's rows become one row where its first was", () => {
  const before = result([
    row("no head", "", { m: 0.1 }),
    row("CLIP, seed 0", "s0", { m: 0.5 }),
    row("mine", "mine.safetensors", { m: 0.3 }),
    row("CLIP, seed 1", "s1", { m: 0.7 }),
  ]);
  const after = collapseSeeds(before, [{
    name: "CLIP (2 seeds)",
    source: "s{0,1}",
    sources: [
      "s0",
      "s1",
    ],
  }]);
  assert.deepEqual(after.rows.map((r) => r.name), ["no head", "CLIP (2 seeds)", "mine"]);
  const merged = after.rows[1];
  assert.equal(merged.source, "s{0,1}");
  assert.equal(merged.seeds, 2);
  assert.deepEqual(merged.perSeed, [{ m: 0.5 }, { m: 0.7 }]);
  assert.ok(Math.abs(merged.metrics.m - 0.6) < 1e-12);
  assert.ok(Math.abs(merged.std!.m - Math.sqrt(0.02)) < 1e-12);
  assert.equal(before.rows.length, 4, "the input is not changed");
  assert.throws(
    () => collapseSeeds(before, [{ name: "X", source: "", sources: ["s0", "gone"] }]),
    /gone: no evaluated row for this checkpoint of X/,
  );
});

Deno.test("evalTable: mean ± std cells, a single row plain, screening – where absent", () => {
  const p10 = "image_to_text_label_P@10", acc = "image_screening_accuracy";
  const table = evalTable(result([
    { ...row("ablation: CLIP (3 seeds)", "a", { [p10]: 0.6123 }), std: { [p10]: 0.01304 } },
    row("ablation: CLIP+BCE", "b", { [p10]: 0.6, [acc]: 0.75 }),
  ]));
  const [header, , clip, bce] = table.split("\n").map((l) => l.split("|").map((c) => c.trim()));
  const p10At = header.indexOf("I→T label P@10"), accAt = header.indexOf("image acc");
  assert.equal(clip[p10At], "0.6123 ± 0.0130");
  assert.equal(clip[accAt], "–");
  assert.equal(bce[p10At], "0.6000");
  assert.equal(bce[accAt], "0.7500");
});

Deno.test("eval flags: budget flags need --ablate or --seeds; counts are checked", async () => {
  await withEmbeddings(async (dir, embeddings) => {
    const args = ["--embeddings", embeddings, "--out", dir];
    await assert.rejects(() => runEval([...args, "--epochs", "2"]), /--epochs needs --ablate/);
    await assert.rejects(
      () => runEval([...args, "--ablate", "--seed", "x"]),
      /--seed x: expected an integer/,
    );
    await assert.rejects(
      () => runEval([...args, "--seeds", "0"]),
      /--seeds 0: expected an integer >= 1/,
    );
    await assert.rejects(
      () => runEval([...args, "--ablate", "--batch-size", "1.5"]),
      /--batch-size 1\.5: expected an integer >= 1/,
    );
  });
});

const BUDGET = ["--epochs", "1", "--batch-size", "32"];

gpuTest("eval --ablate --seeds 2: four configurations, one budget, mean ± std", async (gpu) => {
  await withEmbeddings(async (dir, embeddings) => {
    const out = join(dir, "eval");
    const args = ["--embeddings", embeddings, "--out", out, ...BUDGET];
    const lines: string[] = [];
    const run = await runEval([...args, "--ablate", "--seeds", "2"], (l) => lines.push(l));

    assert.deepEqual(run.result.rows.map((r) => [r.name, r.seeds]), [
      ["no head (raw embeddings)", undefined],
      ["ablation: CLIP (2 seeds)", 2],
      ["ablation: CLIP+SupCon (2 seeds)", 2],
      ["ablation: CLIP+BCE (2 seeds)", 2],
      ["ablation: CLIP+SupCon+BCE (2 seeds)", 2],
    ]);
    assert.equal(lines.filter((l) => / done in /.test(l)).length, 8);
    assert.match(lines[0], /^training run 1\/8 \(CLIP, seed 0\): 1 epoch of batch 32 into /);

    // Each run's checkpoint records its configuration's weights; everything else is shared.
    const budgets = new Set<string>();
    for (const c of ABLATION_CONFIGS) {
      for (const seed of [0, 1]) {
        const path = join(
          out,
          "ablation",
          c.folder,
          `seed-${seed}`,
          "checkpoints",
          "best.safetensors",
        );
        const { config } = await loadCheckpoint(path);
        assert.deepEqual(config.loss, c.loss, path);
        assert.equal(config.seed, seed, path);
        assert.equal(config.epochs, 1);
        assert.equal(config.batchSize, 32);
        const { loss: _, seed: __, logs: ___, name: ____, ...shared } = config;
        budgets.add(JSON.stringify(shared));
      }
    }
    assert.equal(budgets.size, 1, `the runs differ beyond loss and seed:\n${[...budgets]}`);

    // Per-seed values are each checkpoint's own evaluation; the row holds their mean and std.
    const onDisk: EvalResult = JSON.parse(await Deno.readTextFile(run.path));
    const composite = onDisk.rows[4];
    assert.equal(
      composite.source,
      join(out, "ablation", "clip-supcon-bce", "seed-{0,1}", "checkpoints", "best.safetensors"),
    );
    const seedPaths = [0, 1].map((k) =>
      join(out, "ablation", "clip-supcon-bce", `seed-${k}`, "checkpoints", "best.safetensors")
    );
    const alone = await evaluate(gpu, set, embeddings, {
      checkpoints: seedPaths.map((path, k) => ({ name: `seed ${k}`, path })),
    });
    assert.deepEqual(composite.perSeed, alone.rows.slice(1).map((r) => r.metrics));
    const { mean, std } = meanStd(composite.perSeed!);
    assert.deepEqual(composite.metrics, mean);
    assert.deepEqual(composite.std, std);
    assert.ok(composite.std!["image_to_text_label_P@10"] > 0, "seeds give different heads");

    // Without BCE the classifier is untrained: no screening in eval.json, – in the table, a note.
    for (const r of onDisk.rows.slice(1)) {
      const screened = Object.keys(r.metrics).some((k) => k.includes("screening"));
      assert.equal(screened, r.name.includes("BCE"), r.name);
      assert.equal(r.perSeed!.some((m) => "image_screening_AUROC" in m), r.name.includes("BCE"));
    }
    assert.ok(
      onDisk.notes.some((n) =>
        n.startsWith("no screening metrics for CLIP, seed 0; CLIP, seed 1; CLIP+SupCon, seed 0;")
      ),
      onDisk.notes.join("\n"),
    );
    assert.ok(onDisk.notes.some((n) => /CLIP \(w_clip 1, w_supcon 0, w_bce 0\)/.test(n)));
    const table = run.table.split("\n");
    assert.match(
      table[3],
      /^\| ablation: CLIP \(2 seeds\) +\| \d\.\d{4} ± \d\.\d{4} \|.*\| +– \|$/,
    );
    assert.match(
      table[6],
      /^\| ablation: CLIP\+SupCon\+BCE \(2 seeds\) +\|.*\| \d\.\d{4} ± \d\.\d{4} \|$/,
    );

    // Run again: every run is reused, not retrained, and the numbers are the same.
    const mtimes = async () =>
      await Promise.all(
        ABLATION_CONFIGS.map(async (c) =>
          (await Deno.stat(
            join(out, "ablation", c.folder, "seed-1", "checkpoints", "best.safetensors"),
          ))
            .mtime?.getTime()
        ),
      );
    const before = await mtimes();
    const again: string[] = [];
    const rerun = await runEval([...args, "--ablate", "--seeds", "2"], (l) => again.push(l));
    assert.equal(again.length, 8);
    assert.ok(again.every((l) => / reusing .* finished with the same options$/.test(l)), again[0]);
    assert.deepEqual(await mtimes(), before);
    assert.deepEqual(rerun.result, run.result);

    // --seeds without --ablate: the full configuration's runs, reused, as one row.
    const full = await runEval([...args, "--seeds", "2"], () => {});
    assert.deepEqual(full.result.rows.map((r) => r.name), [
      "no head (raw embeddings)",
      "CLIP+SupCon+BCE (2 seeds)",
    ]);
    assert.deepEqual(full.result.rows[1].metrics, composite.metrics);

    // Another budget in the same folders: an error naming the checkpoint and the options.
    await assert.rejects(
      () => runEval(["--embeddings", embeddings, "--out", out, "--ablate", "--epochs", "2"]),
      (e: Error) => {
        const file = join(out, "ablation", "clip", "seed-0", "checkpoints", "epoch_latest");
        assert.ok(e.message.startsWith(`${file}.safetensors: this run folder holds a run of `));
        assert.match(e.message, /options: batchSize: run 32, wanted 64; epochs: run 1, wanted 2\./);
        return true;
      },
    );
  });
});

gpuTest(
  "trainAblation: an interrupted run resumes and ends as an uninterrupted one",
  async (gpu) => {
    await withEmbeddings(async (dir, embeddings) => {
      const budget = {
        epochs: 2,
        batchSize: 32,
        head: { hidden: 16, outDim: 8, layers: 2, dropout: 0.1 },
      };
      const [clip] = ABLATION_CONFIGS;
      // Stopped during its second epoch, after the first epoch's checkpoints.
      const o = runOptions(embeddings, join(dir, "a"), clip, 0, budget);
      await assert.rejects(
        () =>
          train(o, {
            gpu,
            onProgress: (p) => {
              if (p.epoch === 1) throw new Error("interrupted");
            },
          }),
        /interrupted/,
      );
      const lines: string[] = [];
      const options = {
        configs: [clip],
        seeds: [0],
        budget,
        gpu,
        log: (l: string) => lines.push(l),
      };
      const [resumed] = await trainAblation(embeddings, { ...options, out: join(dir, "a") });
      assert.match(lines[0], /resuming .*seed-0 at epoch 1 of 2$/);
      const [whole] = await trainAblation(embeddings, { ...options, out: join(dir, "b") });
      const a = await loadCheckpoint(resumed.checkpoints[0].path);
      const b = await loadCheckpoint(whole.checkpoints[0].path);
      assert.deepEqual(a.params, b.params);
      assert.deepEqual(a.position, b.position);
    });
  },
);
