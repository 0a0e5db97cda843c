/**
 * Every encoder runtime gives the same embeddings: the tiny imported towers on native onnxruntime,
 * its WASM build and its WebGPU provider (software adapter here: kept to the tiny towers), each
 * against the PyTorch oracle and against WASM, within the parity tolerance (max abs <= 1e-4,
 * cosine >= 0.99999); `auto` picks native where it loads.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { BiomedClipConfig } from "../src/encoders/biomedclip_config.ts";
import { openBiomedClip } from "../src/encoders/encoders.ts";
import { importWeights } from "../src/encoders/import_weights.ts";
import { resolveRuntime, type RuntimeName } from "../src/encoders/onnx_runtime.ts";
import { safetensorsStateDict } from "../src/encoders/safetensors_reader.ts";
import { gpuTest } from "./util/check.ts";
import { compareRows, oracleParity } from "./util/compare_rows.ts";

const TINY = new URL("./fixtures/biomedclip_tiny/", import.meta.url).pathname;
const config: BiomedClipConfig = JSON.parse(Deno.readTextFileSync(join(TINY, "config.json")));
const io = safetensorsStateDict(Deno.readFileSync(join(TINY, "io.safetensors")), "io.safetensors");
const THREADS = Number(Deno.env.get("CXR_ORT_THREADS") ?? 2);

const weights = await Deno.makeTempDir({ prefix: "cxr-runtimes-" });
await importWeights({
  checkpoint: join(TINY, "open_clip_tiny.bin"),
  vocab: join(TINY, "vocab.txt"),
  out: weights,
  config,
});
globalThis.addEventListener("unload", () => Deno.removeSync(weights, { recursive: true }));

/** Both towers' embeddings of the oracle's inputs on `runtime`, checked against the oracle. */
async function embedOn(runtime: RuntimeName) {
  const { image, text } = await openBiomedClip(weights, { runtime, numThreads: THREADS });
  try {
    assert.equal(image.runtime, runtime);
    assert.equal(text.runtime, runtime);
    const ids = io.get("input_ids")!.data as BigInt64Array;
    const mask = io.get("attention_mask")!.data as BigInt64Array;
    const { image: img, summary } = await oracleParity(image, text, io, config.embedDim);
    console.log(`${runtime}: ${summary}`);
    return { image: img, text: await text.encode(ids, mask) };
  } finally {
    await image.release();
    await text.release();
  }
}

/** Asserts `runtime`'s embeddings equal WASM's within the parity tolerance. */
async function matchesWasm(runtime: RuntimeName) {
  const [got, want] = [await embedOn(runtime), await embedOn("wasm")];
  for (const tower of ["image", "text"] as const) {
    const { maxAbs, minCos } = compareRows(got[tower], want[tower], config.embedDim);
    assert.ok(maxAbs <= 1e-4 && minCos >= 0.99999, `${runtime} vs wasm, ${tower}: ${maxAbs}`);
  }
}

Deno.test("encoders: native onnxruntime equals WASM and the oracle; auto picks it", async () => {
  assert.deepEqual(await resolveRuntime("auto"), { runtime: "native" });
  await matchesWasm("native");
});

// On wgpu's GL backend over llvmpipe, compiling onnxruntime's WGSL takes minutes (2.5 on the tiny
// towers, against 12 s on Vulkan): the same shaders are checked on Vulkan.
const gl = Deno.env.get("DENO_WEBGPU_BACKEND") === "gl";
if (gl) console.warn("skipping the WebGPU encoder test on the GL backend (checked on Vulkan)");
(gl ? Deno.test.ignore : gpuTest)(
  "encoders: the WebGPU provider equals WASM and the oracle (tiny towers)",
  () => matchesWasm("webgpu"),
);
