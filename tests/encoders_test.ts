/**
 * The imported ONNX towers, run by onnxruntime-web's WASM build, against the PyTorch oracle
 * (tests/oracle/biomedclip_oracle.py): max abs error <= 1e-4 and cosine >= 0.99999 per
 * embedding. By default on the committed tiny fixture; `CXR_ORACLE_DIR=<dir>` runs the same
 * check on another oracle folder (e.g. the full-size model written by
 * `--config full --out <dir>`), printing errors and times; `CXR_ENCODER_RUNTIME=native` (or
 * `webgpu`) runs it on another runtime (tests/encoder_runtimes_test.ts compares them all).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { importWeights } from "../src/encoders/import_weights.ts";
import { WEIGHT_FILES } from "../src/encoders/weights_folder.ts";
import type { BiomedClipConfig } from "../src/encoders/biomedclip_config.ts";
import { ImageEncoder, openBiomedClip, TextEncoder } from "../src/encoders/encoders.ts";
import { readManifest } from "../src/encoders/manifest.ts";
import type { RuntimeName } from "../src/encoders/onnx_runtime.ts";
import { safetensorsStateDict } from "../src/encoders/safetensors_reader.ts";
import { compareRows, oracleParity } from "./util/compare_rows.ts";
import { rejectsWith } from "./util/errors.ts";

const TINY = new URL("./fixtures/biomedclip_tiny/", import.meta.url).pathname;
const oracleDir = Deno.env.get("CXR_ORACLE_DIR") ?? TINY;
const config: BiomedClipConfig = JSON.parse(Deno.readTextFileSync(join(oracleDir, "config.json")));
const name = oracleDir === TINY ? "tiny" : config.vision.width === 768 ? "full" : "custom";
const checkpoint = [...Deno.readDirSync(oracleDir)].find((e) =>
  /^open_clip_.*\.bin$/.test(e.name)
)!;
const io = safetensorsStateDict(
  Deno.readFileSync(join(oracleDir, "io.safetensors")),
  "io.safetensors",
);
const THREADS = Number(Deno.env.get("CXR_ORT_THREADS") ?? 2);
const RUNTIME = (Deno.env.get("CXR_ENCODER_RUNTIME") ?? "wasm") as RuntimeName;
const ORT = { runtime: RUNTIME, numThreads: THREADS };

async function importTo(checkpointPath: string): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: "cxr-weights-" });
  await importWeights({
    checkpoint: checkpointPath,
    vocab: join(oracleDir, "vocab.txt"),
    out,
    config,
  });
  return out;
}

Deno.test(`${name} towers: onnxruntime (${RUNTIME}) matches the PyTorch oracle`, async () => {
  const t0 = performance.now();
  const dir = await importTo(join(oracleDir, checkpoint.name));
  const importS = (performance.now() - t0) / 1000;
  const { image, text, manifest } = await openBiomedClip(dir, {
    ...ORT,
    batchSize: 2,
  });
  assert.deepEqual(manifest.config, config);

  const { image: img, summary } = await oracleParity(image, text, io, config.embedDim);
  console.log(
    `${name}: import ${importS.toFixed(1)} s; ${summary}; ${RUNTIME}, ${THREADS} threads`,
  );

  // Batching does not change results: one item per run gives the same rows.
  if (name === "tiny") {
    const one = await ImageEncoder.create(join(dir, WEIGHT_FILES.image), {
      batchSize: 1,
      ...ORT,
    });
    const pixels = io.get("pixel_values")!.data as Float32Array;
    assert.ok(compareRows(await one.encode(pixels), img, config.embedDim).maxAbs < 1e-6);
    await one.release();
  }
  await image.release();
  await text.release();
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "tiny import: .safetensors gives the same ONNX models as .bin; manifest hashes verified",
  ignore: name !== "tiny",
  fn: async () => {
    const a = await importTo(join(TINY, "open_clip_tiny.bin"));
    const b = await importTo(join(TINY, "open_clip_tiny.safetensors"));
    const ma = await readManifest(a, { verify: true }), mb = await readManifest(b);
    assert.deepEqual(ma.files.image.sha256, mb.files.image.sha256);
    assert.deepEqual(ma.files.text.sha256, mb.files.text.sha256);
    assert.deepEqual(ma.logitScale, Math.fround(Math.log(1 / 0.07)));
    // A changed byte is caught by the manifest check.
    const path = join(a, WEIGHT_FILES.vocab);
    await Deno.writeTextFile(path, (await Deno.readTextFile(path)).replace("tok1\n", "tok9\n"));
    await rejectsWith(() => readManifest(a, { verify: true }), "sha256");
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  },
});

Deno.test({
  name: "tiny import: shape, key and vocabulary mismatches are clear errors",
  ignore: name !== "tiny",
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "cxr-weights-" });
    const tryImport = (c: BiomedClipConfig) => () =>
      importWeights({
        checkpoint: join(TINY, checkpoint.name),
        vocab: join(TINY, "vocab.txt"),
        out,
        config: c,
      });
    await rejectsWith(
      tryImport({ ...config, text: { ...config.text, layers: 3 } }),
      "missing text.transformer.encoder.layer.2.attention.self.query.weight [32,32]",
    );
    await rejectsWith(
      tryImport({ ...config, embedDim: 8 }),
      "visual.head.proj.weight: shape [16,32], config expects [8,32]",
    );
    await rejectsWith(
      tryImport({ ...config, vision: { ...config.vision, layers: 1 } }),
      "unexpected key visual.trunk.blocks.1.norm1.weight",
    );
    await rejectsWith(
      tryImport({ ...config, text: { ...config.text, vocabSize: 121 } }),
      "vocab.txt: 120 tokens, the text tower's config has vocabSize 121",
    );
    await rejectsWith(
      tryImport({ ...config, text: { ...config.text, heads: 3 } }),
      "config text.width 32 % heads 3 != 0",
    );
    const { heads: _, ...headless } = config.vision;
    await rejectsWith(
      tryImport({ ...config, vision: headless as BiomedClipConfig["vision"] }),
      "config vision.heads: undefined is not a positive int",
    );
    await Deno.remove(out, { recursive: true });
  },
});

Deno.test({
  name: "encoders: wrong models and wrong inputs are clear errors",
  ignore: name !== "tiny",
  fn: async () => {
    const dir = await importTo(join(TINY, checkpoint.name));
    await rejectsWith(
      () => ImageEncoder.create(join(dir, WEIGHT_FILES.text), ORT),
      "not a BiomedCLIP image tower:\n  inputs are [input_ids, attention_mask], expected [pixel_values]",
    );
    await rejectsWith(
      () => TextEncoder.create(join(dir, WEIGHT_FILES.image), ORT),
      "outputs are [image_embeds], expected [text_embeds]",
    );
    if (RUNTIME === "wasm") {
      await rejectsWith(
        () =>
          ImageEncoder.create(join(dir, WEIGHT_FILES.image), { ...ORT, numThreads: THREADS + 1 }),
        "cannot switch",
      );
    }
    await rejectsWith(
      () => ImageEncoder.create(new Uint8Array([1, 2, 3]), ORT),
      `onnxruntime (${RUNTIME}) cannot load it`,
    );
    const image = await ImageEncoder.create(join(dir, WEIGHT_FILES.image), ORT);
    await rejectsWith(() => image.encode(new Float32Array(100)), "3x32x32 images");
    await rejectsWith(
      () => TextEncoder.create(join(dir, WEIGHT_FILES.text), ORT),
      "dynamic sequence axis: pass contextLength",
    );
    const text = await TextEncoder.create(join(dir, WEIGHT_FILES.text), {
      ...ORT,
      contextLength: config.text.contextLength,
      vocabSize: config.text.vocabSize,
    });
    const L = text.contextLength, ids = new Int32Array(L), mask = new Int32Array(L);
    ids[0] = 120;
    mask[0] = 1;
    await rejectsWith(() => text.encode(ids, mask), "id 120 outside the vocabulary [0, 120)");
    ids[0] = 2;
    mask[1] = 2;
    await rejectsWith(() => text.encode(ids, mask), "attention mask 2, expected 0 or 1");
    await rejectsWith(() => text.encode(ids, mask.subarray(1)), "rows of 16 tokens");
    mask[1] = 1;
    mask[0] = 0;
    await rejectsWith(() => text.encode(ids, mask), "the first token must be unmasked");
    mask[0] = 1;
    assert.deepEqual(
      (await text.encode(Array.from(ids), Array.from(mask))).length,
      config.embedDim,
    );
    await image.release();
    await text.release();
    await Deno.remove(dir, { recursive: true });
  },
});
