/**
 * The imported OpenAI CLIP towers, run by onnxruntime-web, against the PyTorch oracle
 * (tests/oracle/clip_oracle.py): max abs error <= 1e-4 and cosine >= 0.99999 per embedding. By
 * default on the committed tiny fixture; `CXR_CLIP_ORACLE_DIR=<dir>` runs the same check on
 * another oracle folder (the full-size ViT-B/16 written by `--config full --out <dir>`),
 * printing errors and times. On the tiny fixture also: the graphs as data, the float16
 * TorchScript archive, malicious pickles, bad checkpoints, and the folder read as the pipeline
 * reads it (manifest, tokenizer, encoders).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { unzipSync, zipSync } from "fflate";
import type { ClipConfig } from "../src/encoders/clip_config.ts";
import { buildClipImageTower, buildClipTextTower } from "../src/encoders/clip_onnx_builder.ts";
import {
  CLIP_WEIGHT_FILES,
  importClipWeights,
  openTokenizer,
} from "../src/encoders/clip_import.ts";
import { ClipTokenizer } from "../src/encoders/clip_tokenizer.ts";
import { randomClipStateDict } from "../src/encoders/clip_weights.ts";
import { openBiomedClip, TextEncoder as TextTower } from "../src/encoders/encoders.ts";
import { embedRecords } from "../src/encoders/embed_dataset.ts";
import { encoderIds } from "../src/encoders/encoder_ids.ts";
import { modelFamily, readManifest } from "../src/encoders/manifest.ts";
import { generateSyntheticCxr } from "../src/data/synthetic_cxr.ts";
import { ModelProto } from "../src/encoders/onnx_proto.ts";
import { safetensorsStateDict } from "../src/encoders/safetensors_reader.ts";
import { compareRows, oracleParity } from "./util/compare_rows.ts";
import { rejectsWith } from "./util/errors.ts";

const TINY = new URL("./fixtures/clip_tiny/", import.meta.url).pathname;
const oracleDir = Deno.env.get("CXR_CLIP_ORACLE_DIR") ?? TINY;
const isTiny = oracleDir === TINY;
const config: ClipConfig = JSON.parse(Deno.readTextFileSync(join(oracleDir, "config.json")));
const name = isTiny ? "tiny" : config.vision.width === 768 ? "full" : "custom";
const checkpoint = join(oracleDir, `open_clip_${name === "custom" ? "full" : name}.bin`);
const tokenizer = join(oracleDir, isTiny ? "bpe_tiny.txt" : "bpe_stub.txt");
const io = safetensorsStateDict(
  Deno.readFileSync(join(oracleDir, "io.safetensors")),
  "io.safetensors",
);
const THREADS = Number(Deno.env.get("CXR_ORT_THREADS") ?? 2);

async function importTo(ckpt = checkpoint, cfg = config): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: "cxr-clip-weights-" });
  await importClipWeights({ checkpoint: ckpt, tokenizer, out, config: cfg });
  return out;
}

Deno.test(`clip ${name} towers: onnxruntime matches the PyTorch oracle`, async () => {
  const t0 = performance.now();
  const dir = await importTo();
  const importS = (performance.now() - t0) / 1000;
  const { image, text, manifest } = await openBiomedClip(dir, {
    numThreads: THREADS,
    batchSize: 2,
  });
  try {
    assert.deepEqual([manifest.family, manifest.config], ["openai-clip", config]);
    const { summary } = await oracleParity(image, text, io, config.embedDim);
    console.log(
      `clip ${name}: import ${importS.toFixed(1)} s; ${summary}; ${THREADS} WASM threads`,
    );
  } finally {
    await image.release();
    await text.release();
    await Deno.remove(dir, { recursive: true });
  }
});

interface Decoded {
  opsetImport: { domain: string; version: number }[];
  graph: {
    node: { opType: string }[];
    initializer: { name: string }[];
    input: { name: string }[];
    output: { name: string }[];
  };
}

Deno.test({
  name: "clip tower graphs: opset-17 ops only, every weight used, the towers' signatures",
  ignore: !isTiny,
  fn: () => {
    const sd = randomClipStateDict(config, 1);
    const ops = new Set([
      ...["Add", "ArgMax", "Concat", "Conv", "Expand", "Gather", "GatherND", "Identity"],
      ...["LayerNormalization", "MatMul", "Mul", "Reshape", "Shape", "Sigmoid", "Slice"],
      ...["Softmax", "Transpose"],
    ]);
    const used = new Set<string>();
    const signatures = [
      [["pixel_values"], ["image_embeds"]],
      [["input_ids", "attention_mask"], ["text_embeds"]],
    ];
    for (const [i, build] of [buildClipImageTower, buildClipTextTower].entries()) {
      const m = ModelProto.toObject(ModelProto.decode(build(config, sd)), {
        defaults: true,
        longs: Number,
      }) as Decoded;
      assert.deepEqual(m.opsetImport.map((o) => o.version), [17]);
      assert.deepEqual(
        [m.graph.input.map((x) => x.name), m.graph.output.map((x) => x.name)],
        signatures[i],
      );
      for (const n of m.graph.node) assert.ok(ops.has(n.opType), `op ${n.opType}`);
      for (const i of m.graph.initializer) used.add(i.name.replace(/\.T$/, ""));
    }
    for (const key of sd.keys()) assert.ok(key === "logit_scale" || used.has(key), key);
  },
});

Deno.test({
  name: "clip import: OpenAI's TorchScript form (float16) gives the same towers as the state dict",
  ignore: !isTiny,
  fn: async () => {
    const a = await importTo();
    const b = await importTo(join(TINY, "clip_tiny_jit.pt"));
    try {
      const ma = await readManifest(a, { verify: true }), mb = await readManifest(b);
      // The oracle rounded every tower weight to float16 values, so the ONNX bytes are equal.
      assert.equal(ma.files.image.sha256, mb.files.image.sha256);
      assert.equal(ma.files.text.sha256, mb.files.text.sha256);
      assert.equal(ma.logitScale, Math.fround(Math.log(1 / 0.07)));
      assert.ok(Math.abs(mb.logitScale - ma.logitScale) < 2e-3); // float16 logit_scale
    } finally {
      await Deno.remove(a, { recursive: true });
      await Deno.remove(b, { recursive: true });
    }
  },
});

/** `file` with its data.pkl replaced by `pickle`. */
async function plant(file: string, pickle: number[]): Promise<string> {
  const entries = unzipSync(await Deno.readFile(file));
  const pkl = Object.keys(entries).find((n) => n.endsWith("/data.pkl"))!;
  entries[pkl] = new Uint8Array(pickle);
  const path = await Deno.makeTempFile({ suffix: ".pt" });
  await Deno.writeFile(path, zipSync(entries, { level: 0 }));
  return path;
}

const ascii = (s: string) => Array.from(new TextEncoder().encode(s));

Deno.test({
  name: "clip import: malicious pickles are refused and nothing runs",
  ignore: !isTiny,
  fn: async () => {
    const marker = await Deno.makeTempFile({ prefix: "cxr-clip-pwned-" });
    await Deno.remove(marker);
    const cmd = `touch ${marker}`;
    const out = await Deno.makeTempDir();
    // os.system("touch …") via GLOBAL + REDUCE, in the state dict and in the TorchScript archive.
    const system = [0x80, 2, ...ascii("cos\nsystem\n"), 0x58, cmd.length, 0, 0, 0];
    const evil = [...system, ...ascii(cmd), 0x85, 0x52, 0x2e];
    // NEWOBJ is allowed only on TorchScript module classes: here on builtins.eval.
    const newobj = [0x80, 2, 0x8c, 8, ...ascii("builtins"), 0x8c, 4, ...ascii("eval"), 0x93];
    const cases: [string, number[], string][] = [
      [checkpoint, evil, "global os.system is not allowed"],
      [join(TINY, "clip_tiny_jit.pt"), evil, "global os.system is not allowed"],
      [checkpoint, [...newobj, 0x29, 0x81, 0x2e], "global builtins.eval is not allowed"],
      [
        checkpoint,
        [0x80, 2, ...ascii("c__torch__\nCLIP\n"), 0x4b, 1, 0x85, 0x81, 0x2e],
        "opcode NEWOBJ is not allowed on __torch__.CLIP(1)",
      ],
    ];
    try {
      for (const [file, pickle, message] of cases) {
        const bad = await plant(file, pickle);
        await rejectsWith(
          () => importClipWeights({ checkpoint: bad, tokenizer, out, config }),
          message,
        );
        await Deno.remove(bad);
      }
      await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, "the planted command ran");
      assert.deepEqual([...Deno.readDirSync(out)], [], "nothing written");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "clip import: shape, key and vocabulary mismatches are clear errors",
  ignore: !isTiny,
  fn: async () => {
    const out = await Deno.makeTempDir();
    const tryImport = (c: ClipConfig, tok = tokenizer) => () =>
      importClipWeights({ checkpoint, tokenizer: tok, out, config: c });
    const t = config.text, v = config.vision;
    const cases: [ClipConfig, string][] = [
      [
        { ...config, text: { ...t, layers: 3 } },
        "missing transformer.resblocks.2.attn.in_proj_weight [96,32]",
      ],
      [{ ...config, embedDim: 8 }, "visual.proj: shape [32,16], config expects [32,8]"],
      [
        { ...config, vision: { ...v, layers: 1 } },
        "unexpected key visual.transformer.resblocks.1.ln_1.weight",
      ],
      [
        { ...config, text: { ...t, vocabSize: 49408 } },
        "bpe_tiny.txt: 814 tokens, the text tower's config has vocabSize 49408",
      ],
      [{ ...config, text: { ...t, heads: 3 } }, "config text.width 32 % heads 3 != 0"],
    ];
    try {
      for (const [c, message] of cases) await rejectsWith(tryImport(c), message);
      await rejectsWith(tryImport(config, join(TINY, "config.json")), "not a CLIP tokenizer.json");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name: "clip folder: read as the pipeline reads it; padding after the end token changes nothing",
  ignore: !isTiny,
  fn: async () => {
    const dir = await importTo();
    const enc = await openBiomedClip(dir, { numThreads: THREADS, batchSize: 4 });
    try {
      const manifest = await readManifest(dir, { verify: true });
      assert.equal(modelFamily(manifest), "openai-clip");
      assert.equal(manifest.files.text.path, CLIP_WEIGHT_FILES.text);
      const tok = await openTokenizer(dir, manifest);
      assert.ok(tok instanceof ClipTokenizer);
      const L = config.text.contextLength;
      const texts = ["No acute cardiopulmonary abnormality.", "Heart size normal.", "Effusion"];
      const { ids, mask } = tok.encodeBatch(texts, L);
      assert.equal(ids[0], tok.sotId);
      // Batched, each batch is cut after its longest text; one text at a time, after its own end
      // token; whole rows of 16 tokens: the same embeddings.
      const batched = await enc.text.encode(ids, mask);
      const one = await TextTower.create(join(dir, CLIP_WEIGHT_FILES.text), {
        numThreads: THREADS,
        batchSize: 1,
        contextLength: L,
      });
      assert.ok(compareRows(await one.encode(ids, mask), batched, config.embedDim).maxAbs < 1e-6);
      await one.release();
      const full = await enc.text.encode(ids, new Int32Array(ids.length).fill(1));
      assert.ok(compareRows(full, batched, config.embedDim).maxAbs < 1e-6);
    } finally {
      await enc.image.release();
      await enc.text.release();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "clip tiny folder: embedRecords embeds a dataset with the CLIP towers and tokenizer",
  ignore: !isTiny,
  fn: async () => {
    const dir = await importTo();
    const work = await Deno.makeTempDir({ prefix: "cxr-clip-embed-" });
    try {
      const { records } = await generateSyntheticCxr({ count: 4, seed: 2, outDir: work, size: 32 });
      const cacheDir = join(work, "cache");
      const opts = { weightsDir: dir, cacheDir, progress: false, numThreads: THREADS };
      const { set, embedded, skipped } = await embedRecords(records, opts);
      assert.deepEqual([set.count, set.dim, skipped.length], [4, config.embedDim, 0]);
      assert.ok(set.image.every(Number.isFinite) && set.text.every(Number.isFinite));
      const ids = encoderIds(await readManifest(dir));
      assert.deepEqual([set.metadata.image_encoder, set.metadata.text_encoder], [
        ids.image,
        ids.text,
      ]);
      // A report's embedding is the text tower's output for the CLIP tokenizer's ids.
      const enc = await openBiomedClip(dir, { numThreads: THREADS, batchSize: 1 });
      const tok = await openTokenizer(dir, await readManifest(dir));
      const { ids: t, mask } = tok.encodeBatch([records[0].report], config.text.contextLength);
      const direct = await enc.text.encode(t, mask);
      await enc.image.release();
      await enc.text.release();
      const row0 = set.text.subarray(0, config.embedDim);
      assert.ok(compareRows(direct, row0, config.embedDim).maxAbs < 1e-6);
      assert.deepEqual((await embedRecords(records, opts)).embedded, { images: 0, reports: 0 });
      assert.ok(embedded.images > 0 && embedded.reports > 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  },
});
