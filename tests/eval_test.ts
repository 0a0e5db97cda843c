// `deno task eval` (runEval): rows, table, eval.json, and values equal to the metric functions'.

import assert from "node:assert/strict";
import { join } from "node:path";
import { runEval } from "../src/cli/eval.ts";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { checkpointName, encoderRowName, type EvalResult } from "../src/eval/evaluate_models.ts";
import { saveEmbeddings, selectRows, splitRows } from "../src/io/embeddings.ts";
import { labelRelevance } from "../src/metrics/clinical.ts";
import { clinicalRetrievalMetrics, normalizeRows } from "../src/metrics/evaluate.ts";
import { screeningMetrics } from "../src/metrics/screening.ts";
import { saveCheckpoint } from "../src/model/checkpoint.ts";
import { initialParameters } from "../src/model/init.ts";
import { ParameterLayout } from "../src/model/parameters.ts";
import { Projector } from "../src/model/projector.ts";
import { train } from "../src/train/trainer.ts";
import { gpuTest } from "./util/check.ts";

const set = syntheticEmbeddings({
  count: 200,
  dim: 16,
  latent: 4,
  noise: 0.3,
  validation: 0.2,
  test: 0.25,
  seed: 3,
});
// As `deno task embed` records a BiomedCLIP-architecture text tower (context 256).
set.metadata.text_encoder = "text-fcc455e03277693c-f04cb37b-256";

Deno.test("row names: encoder family from the text encoder id, run folder of a checkpoint", () => {
  assert.equal(encoderRowName(set.metadata), `no head (${set.metadata.text_encoder})`);
  assert.equal(
    encoderRowName({ text_encoder: "text-0123-abcd-77" }),
    "no head (text-0123-abcd-77)",
  );
  assert.equal(encoderRowName({}), "no head (raw embeddings)");
  assert.equal(checkpointName("logs/demo/checkpoints/best.safetensors"), "demo");
  assert.equal(checkpointName("heads/v2.safetensors"), "v2");
});

gpuTest("eval: no-head and checkpoint rows equal the metric functions", async (gpu) => {
  const dir = await Deno.makeTempDir();
  try {
    const embeddings = join(dir, "embeddings.safetensors");
    await saveEmbeddings(embeddings, set);
    const logs = join(dir, "logs");
    await train({
      trainData: set,
      batchSize: 32,
      epochs: 4,
      lr: 3e-3,
      warmup: 2,
      logs,
      name: "tiny",
      head: { hidden: 32, outDim: 16, layers: 2, dropout: 0.1 },
      quiet: true,
    }, { gpu });

    const out = join(dir, "eval");
    const bare = await runEval(["--embeddings", embeddings, "--out", out]);
    assert.deepEqual(bare.result.rows.map((r) => r.name), [encoderRowName(set.metadata)]);

    const run = await runEval(["--embeddings", embeddings, "--logs", logs, "--out", out]);
    const onDisk: EvalResult = JSON.parse(await Deno.readTextFile(join(out, "eval.json")));
    assert.equal(run.path, join(out, "eval.json"));
    assert.deepEqual(onDisk, run.result);
    assert.equal(onDisk.definitions, "cxr-eval/1");
    assert.equal(onDisk.split, "test");
    assert.deepEqual(onDisk.rows.map((r) => [r.name, r.kind]), [
      [encoderRowName(set.metadata), "encoder"],
      ["tiny", "checkpoint"],
    ]);
    const lines = run.table.split("\n");
    assert.equal(lines.length, 4);
    assert.match(lines[0], /^\| model +\| +I→T R@1 \|.* T→I label mAP@10 \|.* report AUROC \|$/);
    assert.match(lines[2], /^\| no head \(text-fcc455e03277693c-f04cb37b-256\) \|.* – \|$/);
    assert.match(lines[3], /^\| tiny +\| +0\.\d{4} \|/);

    // The same numbers straight from the metric functions.
    const rows = splitRows(set, "test"), n = rows.length;
    const image = selectRows(set.image, rows, set.dim), text = selectRows(set.text, rows, set.dim);
    const labels = Int32Array.from(rows, (r) => set.label[r]);
    const rel = [labelRelevance(labels)];
    const raw = await clinicalRetrievalMetrics(gpu, {
      zImage: await normalizeRows(gpu, gpu.storage(image), n, set.dim),
      zText: await normalizeRows(gpu, gpu.storage(text), n, set.dim),
      count: n,
      dim: set.dim,
      logitScale: gpu.storage(new Float32Array([0])),
    }, rel);
    assert.deepEqual(onDisk.rows[0].metrics, raw);
    assert.ok("image_to_text_label_nDCG@20" in raw && "text_to_image_MRR" in raw);

    const p = await Projector.load(join(logs, "tiny", "checkpoints", "best.safetensors"), gpu);
    const expected = await clinicalRetrievalMetrics(gpu, {
      zImage: await p.projectToGpu("image", image, n),
      zText: await p.projectToGpu("text", text, n),
      count: n,
      dim: p.head.outDim,
      logitScale: p.logitScale,
    }, rel);
    for (const [tower, x] of [["image", image], ["text", text]] as const) {
      const s = screeningMetrics(await p.classify(tower, x, n), labels);
      Object.assign(expected, {
        [`${tower}_screening_accuracy`]: s.accuracy,
        [`${tower}_screening_sensitivity`]: s.sensitivity,
        [`${tower}_screening_specificity`]: s.specificity,
        [`${tower}_screening_AUROC`]: s.auroc,
      });
    }
    assert.deepEqual(onDisk.rows[1].metrics, expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("eval: bad inputs name the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const embeddings = join(dir, "embeddings.safetensors");
    await saveEmbeddings(embeddings, set);
    const out = join(dir, "eval");
    await assert.rejects(
      () => runEval(["--embeddings", join(dir, "absent.safetensors"), "--out", out]),
      /absent\.safetensors: no such file \(--embeddings\)/,
    );
    const args = ["--embeddings", embeddings, "--out", out];
    await assert.rejects(
      () => runEval([...args, "--checkpoint", join(dir, "gone.safetensors")]),
      /gone\.safetensors: no such file \(--checkpoint\)/,
    );
    await assert.rejects(
      () => runEval([...args, "--logs", join(dir, "eval-nothing")]),
      /eval-nothing: cannot read the logs folder/,
    );
    const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
    const norm = { mean: new Float32Array(8), std: new Float32Array(8).fill(1) };
    const other = join(dir, "other.safetensors");
    await saveCheckpoint(other, {
      head,
      config: {},
      position: {
        epoch: 1,
        stepInEpoch: 0,
        optimizerStep: 1,
        best: { metric: "mean_recall", value: 0, epoch: 0 },
        epochsWithoutImprovement: 0,
      },
      params: initialParameters(new ParameterLayout(head), 1),
      inputNorm: { image: norm, text: norm },
    });
    await assert.rejects(
      () => runEval([...args, "--checkpoint", other]),
      /other\.safetensors: its heads take 8-wide embeddings, .*embeddings\.safetensors holds 16-wide/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
