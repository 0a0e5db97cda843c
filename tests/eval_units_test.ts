// `deno task eval` with what embeddings files carry besides the pairs: findings relevance,
// per-image evaluation, baseline files of other encoders matched by study id, and a dataset
// embedded by two weights folders (the demo towers and tiny CLIP towers).

import assert from "node:assert/strict";
import { join } from "node:path";
import { runEval } from "../src/cli/eval.ts";
import { BIOMEDCLIP_CONFIG } from "../src/encoders/biomedclip_config.ts";
import { CLIP_TINY_CONFIG, CLIP_VIT_B_16_CONFIG } from "../src/encoders/clip_config.ts";
import { importClipWeights } from "../src/encoders/clip_import.ts";
import { encoderIds } from "../src/encoders/encoder_ids.ts";
import {
  type BiomedClipManifest,
  type ClipManifest,
  encoderFamilyName,
  readManifest,
} from "../src/encoders/manifest.ts";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { sameImages, unitEmbeddings } from "../src/eval/eval_inputs.ts";
import { encoderRowName, evaluate } from "../src/eval/evaluate_models.ts";
import { type EmbeddingSet, saveEmbeddings, selectRows, splitRows } from "../src/io/embeddings.ts";
import { findingsRelevance, labelRelevance } from "../src/metrics/clinical.ts";
import { clinicalRetrievalMetrics, normalizeRows } from "../src/metrics/evaluate.ts";
import { train } from "../src/train/trainer.ts";
import { gpuTest } from "./util/check.ts";

const FINDINGS = ["Effusion", "Cardiomegaly", "Nodule", "Pneumothorax"];

/**
 * A SYNTHETIC set with what `embedRecords` adds: 1 to 3 images per study (the study's row plus
 * a per-image offset; `image` is their mean) and findings (abnormal studies one or two, normal
 * ones none).
 */
function withStudies(set: EmbeddingSet): EmbeddingSet {
  const values: number[] = [], study: number[] = [];
  const image = new Float32Array(set.image.length);
  const studies = set.ids.map((id, i) => {
    const count = 1 + (i % 3);
    for (let m = 0; m < count; m++) {
      for (let d = 0; d < set.dim; d++) {
        const v = set.image[i * set.dim + d] + 0.4 * Math.sin(7 * i + 3 * m + d);
        values.push(v);
        image[i * set.dim + d] += v / count;
      }
      study.push(i);
    }
    const findings = set.label[i] === 0
      ? []
      : [FINDINGS[i % 4], ...(i % 5 === 0 ? [FINDINGS[(i + 1) % 4]] : [])];
    const imagePaths = Array.from({ length: count }, (_, m) => `${id}-${m}.png`);
    return { patientId: `p${i}`, findings, report: `report ${id}`, imagePaths };
  });
  return {
    ...set,
    image,
    studies,
    images: {
      values: Float32Array.from(values),
      study: Int32Array.from(study),
      count: study.length,
    },
  };
}

/** The studies `order` of `set` (a subset, or all of them reordered), with their images. */
function reorder(set: EmbeddingSet, order: Uint32Array): EmbeddingSet {
  const each = unitEmbeddings(set, order, "image", "set");
  return {
    ...set,
    ids: Array.from(order, (r) => set.ids[r]),
    image: selectRows(set.image, order, set.dim),
    text: selectRows(set.text, order, set.dim),
    label: Int32Array.from(order, (r) => set.label[r]),
    split: Int32Array.from(order, (r) => set.split[r]),
    count: order.length,
    studies: Array.from(order, (r) => set.studies![r]),
    images: { values: each.image, study: each.imageStudy!, count: each.imageRows },
  };
}

const options = { latent: 4, noise: 0.3, validation: 0.2, test: 0.25 };
const main = withStudies(syntheticEmbeddings({ count: 120, dim: 16, seed: 3, ...options }));
main.metadata.image_encoder = "image-main";
main.metadata.text_encoder = "text-main";
// The same collection from "other encoders": another width and other values...
const other = syntheticEmbeddings({ count: 120, dim: 8, seed: 4, ...options });
const alone = withStudies({ ...other, ids: main.ids, label: main.label, split: main.split });
// ...in another file order (reversed).
const baseline = reorder(
  { ...alone, metadata: { text_encoder: "text-other", encoder_name: "CLIP ViT-B/16" } },
  Uint32Array.from({ length: main.count }, (_, i) => main.count - 1 - i),
);

gpuTest(
  "eval: findings metrics with studies, per-image rows equal the metric functions",
  async (gpu) => {
    const bare = await evaluate(gpu, { ...main, studies: undefined }, "bare");
    assert.deepEqual(bare.relevance, ["label"]);
    assert.ok(bare.notes.some((n) => /no finding labels/.test(n)));
    assert.ok(!("image_to_text_findings_nDCG@10" in bare.rows[0].metrics));

    const study = await evaluate(gpu, main, "main");
    assert.deepEqual(study.relevance, ["label", "findings"]);
    assert.equal(study.unit, "study");
    assert.match(study.relevanceRules!.findings, /Jaccard.*relevant when the gain is > 0/);
    assert.ok(!study.notes.some((n) => /finding/.test(n)));
    const rows = splitRows(main, "test"), n = rows.length;
    const rel = [
      labelRelevance(Int32Array.from(rows, (r) => main.label[r])),
      findingsRelevance(Array.from(rows, (r) => main.studies![r].findings)),
    ];
    const scale = gpu.storage(new Float32Array(1));
    const normalized = (x: Float32Array<ArrayBuffer>, count: number) =>
      normalizeRows(gpu, gpu.storage(x), count, main.dim);
    const text = selectRows(main.text, rows, main.dim);
    assert.deepEqual(
      study.rows[0].metrics,
      await clinicalRetrievalMetrics(gpu, {
        zImage: await normalized(selectRows(main.image, rows, main.dim), n),
        zText: await normalized(text, n),
        count: n,
        dim: main.dim,
        logitScale: scale,
      }, rel),
    );

    const perImage = await evaluate(gpu, main, "main", { unit: "image" });
    const e = unitEmbeddings(main, rows, "image", "main");
    assert.equal(perImage.unit, "image");
    assert.match(perImage.pairRule!, /best-ranked image/);
    assert.equal(perImage.images, e.imageRows);
    assert.ok(e.imageRows > 1.5 * n, `${e.imageRows} images for ${n} studies`);
    assert.deepEqual(
      perImage.rows[0].metrics,
      await clinicalRetrievalMetrics(gpu, {
        zImage: await normalized(e.image, e.imageRows),
        zText: await normalized(text, n),
        count: n,
        dim: main.dim,
        logitScale: scale,
        imageStudy: e.imageStudy,
      }, rel),
    );
    assert.notDeepEqual(perImage.rows[0].metrics, study.rows[0].metrics);
    await assert.rejects(
      () => evaluate(gpu, { ...main, images: undefined }, "old.safetensors", { unit: "image" }),
      /old\.safetensors: per-image evaluation \(--unit image\) needs every image's embedding/,
    );
  },
);

gpuTest(
  "eval: a baseline file is matched by study id; missing ids and labels are named",
  async (gpu) => {
    const dir = await Deno.makeTempDir();
    try {
      const [mainFile, otherFile] = [join(dir, "main.safetensors"), join(dir, "clip.safetensors")];
      await saveEmbeddings(mainFile, main);
      await saveEmbeddings(otherFile, baseline);
      const out = join(dir, "eval");
      const args = ["--embeddings", mainFile, "--baseline", otherFile, "--out", out];
      for (const unit of ["study", "image"]) {
        const { result, table } = await runEval([...args, "--unit", unit]);
        assert.deepEqual(result.rows.map((r) => [r.name, r.kind]), [
          ["no head (text-main)", "encoder"],
          ["no head (CLIP ViT-B/16, text-other)", "encoder"],
        ]);
        assert.match(result.rows[1].source, /clip\.safetensors: text-other$/);
        // The baseline row is the baseline file evaluated alone in the main file's order.
        const byItself = await evaluate(gpu, alone, "alone", { unit: unit as "study" | "image" });
        assert.deepEqual(result.rows[1].metrics, byItself.rows[0].metrics, unit);
        assert.match(table, /\| I→T findings nDCG@10 \|/);
      }

      const missing = join(dir, "missing.safetensors");
      const test = splitRows(main, "test"), removed = Array.from(test.subarray(0, 3));
      const keep = Uint32Array.from({ length: main.count }, (_, i) => i)
        .filter((r) => !removed.includes(r));
      await saveEmbeddings(missing, reorder(main, keep));
      const gone = removed.map((r) => main.ids[r]);
      await assert.rejects(
        () => runEval(["--embeddings", mainFile, "--baseline", missing, "--out", out]),
        new RegExp(
          `missing\\.safetensors: ${gone.length} of the \\d+ studies evaluated are not in this ` +
            `baseline file \\(first: ${gone.join(", ")}\\)`,
        ),
      );
      const relabelled = join(dir, "relabelled.safetensors");
      const first = test[5];
      const label = main.label.slice();
      label[first] = 1 - label[first];
      await saveEmbeddings(relabelled, { ...main, label, studies: undefined, images: undefined });
      await assert.rejects(
        () => runEval(["--embeddings", mainFile, "--baseline", relabelled, "--out", out]),
        new RegExp(`relabelled\\.safetensors: study ${main.ids[first]} is labelled`),
      );
      await assert.rejects(
        () => runEval([...args, "--unit", "patient"]),
        /--unit patient: expected one of study, image/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("eval: a checkpoint trained on other encoders' embeddings is refused", async (gpu) => {
  const dir = await Deno.makeTempDir();
  try {
    const trainedOn = { ...main, metadata: { ...main.metadata, text_encoder: "text-elsewhere" } };
    await train({
      trainData: trainedOn,
      batchSize: 32,
      epochs: 1,
      logs: dir,
      name: "elsewhere",
      head: { hidden: 16, outDim: 8, layers: 2, dropout: 0 },
      quiet: true,
    }, { gpu });
    const checkpoint = join(dir, "elsewhere", "checkpoints", "best.safetensors");
    await assert.rejects(
      () =>
        evaluate(gpu, main, "main.safetensors", { checkpoints: [{ name: "x", path: checkpoint }] }),
      /best\.safetensors: trained on embeddings of text encoder text-elsewhere, but main\.safetensors was embedded by text-main/,
    );
    const ok = await evaluate(gpu, trainedOn, "e", {
      unit: "image",
      checkpoints: [{ name: "elsewhere", path: checkpoint }],
    });
    // Per image, images are screened one by one.
    assert.ok(Number.isFinite(ok.rows[1].metrics["image_screening_AUROC"]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "eval --dataset: one synthetic set embedded by the demo towers and tiny CLIP towers",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "cxr-eval-dataset-" });
    try {
      const clip = join(dir, "clip");
      const fixture = new URL("./fixtures/clip_tiny/", import.meta.url).pathname;
      await importClipWeights({
        checkpoint: join(fixture, "open_clip_tiny.bin"),
        tokenizer: join(fixture, "bpe_tiny.txt"),
        out: clip,
        config: CLIP_TINY_CONFIG,
      });
      assert.equal(encoderFamilyName(await readManifest(clip)), null); // tiny: not ViT-B/16
      const lines: string[] = [];
      const args = [
        "--dataset",
        "synthetic",
        "--data-dir",
        join(dir, "data"),
        "--synthetic-count",
        "40",
        "--cache-dir",
        join(dir, "cache"),
        "--weights",
        "weights/demo",
        "--weights",
        clip,
        "--unit",
        "image",
        "--out",
        join(dir, "eval"),
      ];
      const { result } = await runEval(args, (l) => lines.push(l));
      const ids = [
        encoderIds(await readManifest("weights/demo")),
        encoderIds(await readManifest(clip)),
      ];
      assert.deepEqual(
        result.rows.map((r) => r.name),
        ids.map((x) => encoderRowName({ text_encoder: x.text })),
      );
      assert.ok(result.synthetic);
      assert.deepEqual(result.relevance, ["label", "findings"]);
      assert.match(result.embeddings, /^synthetic \(.*data\) embedded with weights\/demo$/);
      assert.equal(
        lines.filter((l) => /^embedded \d+ images and \d+ reports with/.test(l)).length,
        2,
      );
      for (const row of result.rows) {
        assert.ok(row.metrics["text_to_image_findings_nDCG@10"] > 0, row.name);
      }
      await assert.rejects(
        () => runEval([...args, "--baseline", "x.safetensors"]),
        /--baseline goes with --embeddings/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("sameImages: a baseline with another image count for a study is named", () => {
  const rows = Uint32Array.of(0, 1, 2);
  const e = unitEmbeddings(main, rows, "image", "main");
  const fewer = { ...e, imageStudy: e.imageStudy!.slice(0, -1), imageRows: e.imageRows - 1 };
  sameImages(e, e, main.ids, "clip.safetensors");
  assert.throws(
    () => sameImages(e, fewer, Array.from(rows, (r) => main.ids[r]), "clip.safetensors"),
    new RegExp(
      `clip\\.safetensors: study ${main.ids[2]} has 2 image\\(s\\) here and 3 in the main`,
    ),
  );
});

Deno.test("encoderFamilyName: a published model only from the manifest's family and full config", async () => {
  const { family: _, ...demo } = await readManifest("weights/demo") as BiomedClipManifest;
  const asRead = <T>(x: T): T => JSON.parse(JSON.stringify(x)); // as manifest.json gives it back
  assert.equal(encoderFamilyName(demo), null);
  assert.equal(encoderFamilyName({ ...demo, config: asRead(BIOMEDCLIP_CONFIG) }), "BiomedCLIP");
  const clip: ClipManifest = {
    ...demo,
    family: "openai-clip",
    config: asRead(CLIP_VIT_B_16_CONFIG),
  };
  assert.equal(encoderFamilyName(clip), "CLIP ViT-B/16");
  assert.equal(encoderFamilyName({ ...clip, config: CLIP_TINY_CONFIG }), null);
  // BiomedCLIP's sizes under CLIP's family, or the other way round, are no published model.
  assert.equal(encoderFamilyName({ ...demo, config: asRead(CLIP_VIT_B_16_CONFIG) } as never), null);
});
