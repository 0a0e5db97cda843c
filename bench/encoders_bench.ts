/**
 * Frozen-encoder throughput at full size (ViT-B/16 224 + BiomedBERT, random weights built into a
 * temp dir at start): images/s and reports/s through onnxruntime-web's WASM backend, against the
 * same forward passes in PyTorch on this machine (bench/peers/encoders_peer.py). Reports are
 * timed at the full 256-token context and cut to 64 tokens (a typical report; TextEncoder cuts
 * padding, and the peer gets the same cut input). Few iterations (each call takes seconds).
 * `CXR_BENCH_THREADS` sets both sides' threads (default 2), `CXR_BENCH_BATCH` the batch
 * (default 2).
 */

import { startBlasPeer } from "./util/peer.ts";
import { join } from "node:path";
import { BIOMEDCLIP_CONFIG, type BiomedClipConfig } from "../src/encoders/biomedclip_config.ts";
import { ImageEncoder, TextEncoder as TextTower } from "../src/encoders/encoders.ts";
import { buildImageTower, buildTextTower } from "../src/encoders/onnx_builder.ts";
import { randomOpenClipStateDict } from "../src/encoders/open_clip_weights.ts";
import { Rng } from "../src/util/rng.ts";
import { benchThroughput } from "./util/throughput.ts";

const THREADS = Number(Deno.env.get("CXR_BENCH_THREADS") ?? 2);
const BATCH = Number(Deno.env.get("CXR_BENCH_BATCH") ?? 2);
const ITERS = { n: 3, warmup: 1 };
const SHORT = 64;
const config = BIOMEDCLIP_CONFIG;

/** Multiply-add FLOPs of one transformer layer over `t` tokens (matmuls and attention). */
function layerFlops(t: number, width: number, hidden: number): number {
  return 2 * t * width * (4 * width + 2 * hidden) + 4 * t * t * width;
}

/** FLOPs of one image, one full-context text and one short text (matmuls, conv, attention). */
function towerFlops(c: BiomedClipConfig) {
  const v = c.vision, t = c.text, patches = (v.imageSize / v.patchSize) ** 2;
  const image = 2 * patches * 3 * v.patchSize ** 2 * v.width +
    v.layers * layerFlops(patches + 1, v.width, v.mlpDim) + 2 * v.width * c.embedDim;
  const text = (tokens: number) =>
    t.layers * layerFlops(tokens, t.width, t.intermediate) +
    2 * (t.width * t.projHidden + t.projHidden * c.embedDim);
  return { image, text: text(t.contextLength), text_short: text(SHORT) };
}

async function buildEncoders() {
  const dir = await Deno.makeTempDir({ prefix: "cxr-bench-encoders-" });
  const t0 = performance.now();
  const sd = randomOpenClipStateDict(config, 0);
  await Deno.writeFile(join(dir, "image.onnx"), buildImageTower(config, sd));
  await Deno.writeFile(join(dir, "text.onnx"), buildTextTower(config, sd));
  const opts = { numThreads: THREADS, batchSize: BATCH };
  const image = await ImageEncoder.create(join(dir, "image.onnx"), opts);
  const text = await TextTower.create(join(dir, "text.onnx"), {
    ...opts,
    contextLength: config.text.contextLength,
  });
  await Deno.remove(dir, { recursive: true });
  console.log(`built full-size random towers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { image, text };
}

/** The PyTorch peer: `request("image")` runs one batch of images, `request("text")` of texts. */
async function startTorchPeer() {
  const script = new URL("./peers/encoders_peer.py", import.meta.url).pathname;
  const peer = await startBlasPeer("/usr/bin/python3", [
    script,
    ...["--batch", String(BATCH), "--threads", String(THREADS), "--short", `${SHORT}`],
  ]);
  if (peer && !peer.banner.startsWith("ready")) {
    throw new Error(`the PyTorch peer said: ${peer.banner}`);
  }
  if (peer) console.log(`PyTorch peer: ${peer.banner}`);
  return peer;
}

const flops = towerFlops(config);
let encoders: Awaited<ReturnType<typeof buildEncoders>> | undefined;
let whyNot: string | false = false;
try {
  encoders = await buildEncoders();
} catch (e) {
  whyNot = `cannot build the full-size towers: ${(e as Error).message}`;
}
let peer: Awaited<ReturnType<typeof startTorchPeer>> | undefined;
let peerWhyNot: string | false = false;
try {
  peer = await startTorchPeer();
  if (!peer) peerWhyNot = "no PyTorch peer (/usr/bin/python3 with torch)";
} catch (e) {
  peerWhyNot = `no PyTorch peer (/usr/bin/python3 with torch): ${(e as Error).message}`;
}

const rng = new Rng(0);
const S = config.vision.imageSize, L = config.text.contextLength;
const pixels = Float32Array.from({ length: BATCH * 3 * S * S }, () => rng.normal());
const ids = Int32Array.from({ length: BATCH * L }, () => 5 + rng.int(config.text.vocabSize - 5));
const mask = new Int32Array(BATCH * L).fill(1);
const shortMask = Int32Array.from(mask, (_, i) => i % L < SHORT ? 1 : 0);
const GROUPS = {
  image: "image tower 224x224",
  text: `text tower, ${L} tokens`,
  text_short: `text tower, ${SHORT} of ${L} tokens`,
};

for (const tower of ["image", "text", "text_short"] as const) {
  const group = `${GROUPS[tower]}, batch ${BATCH}, ${THREADS} threads`;
  const work = { flops: BATCH * flops[tower], items: BATCH };
  benchThroughput({
    name: `PyTorch ${tower} (peer)`,
    group,
    baseline: true,
    work,
    ...ITERS,
    ignore: peerWhyNot,
    fn: () => peer!.request(tower),
  });
  benchThroughput({
    name: `onnxruntime-web ${tower}`,
    group,
    work,
    ...ITERS,
    ignore: whyNot,
    fn: async () => {
      if (tower === "image") await encoders!.image.encode(pixels);
      else await encoders!.text.encode(ids, tower === "text" ? mask : shortMask);
    },
  });
}
