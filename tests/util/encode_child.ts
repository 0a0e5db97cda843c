/**
 * A child process for encoder tests that must survive a hang: embeds a fixed batch of images
 * (the demo image tower) with the given threads and batch size, then prints the embeddings as
 * one JSON line. The parent kills it when it does not finish in time.
 *
 *   deno run -A tests/util/encode_child.ts --threads 2 --batch 8 --count 8
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ImageEncoder } from "../../src/encoders/encoders.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    threads: { type: "string", default: "2" },
    batch: { type: "string", default: "8" },
    count: { type: "string", default: "8" },
  },
});
const model = new URL("../../weights/demo/biomedclip-image.onnx", import.meta.url).pathname;
const enc = await ImageEncoder.create(model, {
  numThreads: Number(values.threads),
  batchSize: Number(values.batch),
});
const n = Number(values.count), per = 3 * enc.imageSize * enc.imageSize;
const pixels = Float32Array.from({ length: n * per }, (_, i) => Math.sin(i * 0.001));
const out = await enc.encode(pixels);
await enc.release();
console.log(JSON.stringify({ dim: enc.embedDim, embeddings: Array.from(out) }));
