import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDemoWeights } from "../src/encoders/demo_weights.ts";
import { openBiomedClip } from "../src/encoders/encoders.ts";

const COMMITTED = new URL("../weights/demo", import.meta.url).pathname;

Deno.test("demo encoders: `deno task weights demo` rebuilds the committed files byte for byte", async () => {
  const dir = await Deno.makeTempDir();
  await buildDemoWeights(dir);
  for (const f of ["biomedclip-image.onnx", "biomedclip-text.onnx", "vocab.txt", "manifest.json"]) {
    assert.deepEqual(await Deno.readFile(join(dir, f)), await Deno.readFile(join(COMMITTED, f)), f);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("demo encoders: open with their manifest (SHA-256 verified) and tell inputs apart", async () => {
  const enc = await openBiomedClip(COMMITTED, { verify: true });
  try {
    const size = enc.image.imageSize, per = 3 * size * size;
    const pixels = new Float32Array(2 * per);
    for (let i = per; i < 2 * per; i++) pixels[i] = Math.sin(i / 97);
    const e = await enc.image.encode(pixels);
    const d = enc.image.embedDim;
    const diff = e.subarray(0, d).reduce((a, v, j) => a + Math.abs(v - e[d + j]), 0);
    assert.ok(diff > 1e-2 * d, `two different images embed almost identically (L1 ${diff})`);
  } finally {
    await enc.image.release();
    await enc.text.release();
  }
});
