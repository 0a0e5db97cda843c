/**
 * Frozen-encoder throughput at full size (ViT-B/16 224 + BiomedBERT, random weights built into a
 * temp dir at start), one group per tower: PyTorch eager on this machine (the baseline,
 * bench/peers/encoders_peer.py), onnxruntime-web's WASM build on 1 thread (in a worker: the WASM
 * thread count is fixed per runtime instance) and on all threads, and native onnxruntime
 * (onnxruntime-node). Reports are timed at the full 256-token context and cut to 64 tokens (a
 * typical report; TextEncoder cuts padding, and the peer gets the same cut input).
 *
 * Before the `Deno.bench` groups (which run one bench after another), paired rounds run every
 * variant once per tower, in a rotating order, with a pause before each (OpenBLAS's idle threads
 * spin for a while after a call), and the peer's SGEMM on the ViT's MLP shape (its BLAS: OpenBLAS
 * where libblas.so.3 is OpenBLAS): on a shared machine the per-round ratios are the figures to
 * quote. Env: `CXR_BENCH_THREADS` (all
 * threads; default every core), `CXR_BENCH_BATCH` (default 2), `CXR_BENCH_ROUNDS` (default 3).
 */

import { join } from "node:path";
import { BIOMEDCLIP_CONFIG, type BiomedClipConfig } from "../src/encoders/biomedclip_config.ts";
import { ImageEncoder, TextEncoder as TextTower } from "../src/encoders/encoders.ts";
import type { RuntimeOptions } from "../src/encoders/onnx_runtime.ts";
import { buildImageTower, buildTextTower } from "../src/encoders/onnx_builder.ts";
import { randomOpenClipStateDict } from "../src/encoders/open_clip_weights.ts";
import { Rng } from "../src/util/rng.ts";
import { startBlasPeer } from "./util/peer.ts";
import { benchThroughput } from "./util/throughput.ts";

/** The Web Worker constructor, kept before onnxruntime-web's loader replaces the global one. */
const WebWorker = globalThis.Worker;
const THREADS = Number(Deno.env.get("CXR_BENCH_THREADS") ?? navigator.hardwareConcurrency);
const BATCH = Number(Deno.env.get("CXR_BENCH_BATCH") ?? 2);
const ROUNDS = Number(Deno.env.get("CXR_BENCH_ROUNDS") ?? 3);
const ITERS = { n: 2, warmup: 1 };
const SETTLE_MS = 300;
const SHORT = 64;
/** The peer's `sgemm` request: 8 products of 1024x768 by 768x3072. */
const SGEMM_FLOPS = 8 * 2 * 1024 * 768 * 3072;
const config = BIOMEDCLIP_CONFIG;
const TOWERS = ["image", "text", "text_short"] as const;
type Tower = (typeof TOWERS)[number];

/** Multiply-add FLOPs of one transformer layer over `t` tokens (matmuls and attention). */
function layerFlops(t: number, width: number, hidden: number): number {
  return 2 * t * width * (4 * width + 2 * hidden) + 4 * t * t * width;
}

/** FLOPs of one image, one full-context text and one short text (matmuls, conv, attention). */
function towerFlops(c: BiomedClipConfig): Record<Tower, number> {
  const v = c.vision, t = c.text, patches = (v.imageSize / v.patchSize) ** 2;
  const image = 2 * patches * 3 * v.patchSize ** 2 * v.width +
    v.layers * layerFlops(patches + 1, v.width, v.mlpDim) + 2 * v.width * c.embedDim;
  const text = (tokens: number) =>
    t.layers * layerFlops(tokens, t.width, t.intermediate) +
    2 * (t.width * t.projHidden + t.projHidden * c.embedDim);
  return { image, text: text(t.contextLength), text_short: text(SHORT) };
}

const FLOPS = towerFlops(config);
const rng = new Rng(0);
const S = config.vision.imageSize, L = config.text.contextLength;
const inputs = {
  pixels: Float32Array.from({ length: BATCH * 3 * S * S }, () => rng.normal()),
  ids: Int32Array.from({ length: BATCH * L }, () => 5 + rng.int(config.text.vocabSize - 5)),
  mask: new Int32Array(BATCH * L).fill(1),
  shortMask: Int32Array.from({ length: BATCH * L }, (_, i) => i % L < SHORT ? 1 : 0),
};

/** Runs one batch of a tower: `(tower) => Promise<void>`. */
type Runner = (tower: Tower) => Promise<void>;

/** Both towers on `opts`' runtime in this thread. */
async function localRunner(files: { image: string; text: string }, opts: RuntimeOptions) {
  const o = { ...opts, batchSize: BATCH };
  const image = await ImageEncoder.create(files.image, o);
  const text = await TextTower.create(files.text, { ...o, contextLength: L });
  const run: Runner = async (tower) => {
    if (tower === "image") await image.encode(inputs.pixels);
    else await text.encode(inputs.ids, tower === "text" ? inputs.mask : inputs.shortMask);
  };
  return run;
}

/** Both towers on `opts`' runtime in a worker (bench/util/encoder_worker.ts). */
async function workerRunner(files: { image: string; text: string }, opts: RuntimeOptions) {
  const worker = new WebWorker(new URL("./util/encoder_worker.ts", import.meta.url), {
    type: "module",
  });
  globalThis.addEventListener("unload", () => worker.terminate());
  const ask = (message: unknown) =>
    new Promise<void>((resolve, reject) => {
      worker.onmessage = (e) => e.data.error ? reject(new Error(e.data.error)) : resolve();
      worker.postMessage(message);
    });
  await ask({ open: { ...files, ...opts, batchSize: BATCH, contextLength: L } });
  await ask({ inputs });
  const run: Runner = (tower) => ask({ run: tower });
  return run;
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

/** Every variant that starts here, by name; a variant that cannot start is skipped, with why. */
async function startVariants() {
  const variants: { name: string; run: Runner }[] = [];
  const skipped: { name: string; why: string }[] = [];
  const add = async (name: string, start: () => Promise<Runner | null>) => {
    try {
      const run = await start();
      if (run) variants.push({ name, run });
      else skipped.push({ name, why: "no PyTorch peer (/usr/bin/python3 with torch)" });
    } catch (e) {
      skipped.push({ name, why: (e as Error).message });
    }
  };
  const dir = await Deno.makeTempDir({ prefix: "cxr-bench-encoders-" });
  const files = { image: join(dir, "image.onnx"), text: join(dir, "text.onnx") };
  const t0 = performance.now();
  const sd = randomOpenClipStateDict(config, 0);
  await Deno.writeFile(files.image, buildImageTower(config, sd));
  await Deno.writeFile(files.text, buildTextTower(config, sd));
  console.log(`built full-size random towers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let peer: Awaited<ReturnType<typeof startTorchPeer>> = null;
  await add("PyTorch eager (peer)", async () => {
    peer = await startTorchPeer();
    const p = peer;
    return p ? (tower) => p.request(tower) : null;
  });
  // The worker first: it needs the Web Worker constructor, and starts its own WASM runtime.
  await add(
    "WASM 1 thread (worker)",
    () => workerRunner(files, { runtime: "wasm", numThreads: 1 }),
  );
  await add(
    `WASM ${THREADS} threads`,
    () => localRunner(files, { runtime: "wasm", numThreads: THREADS }),
  );
  await add(
    `native ${THREADS} threads`,
    () => localRunner(files, { runtime: "native", numThreads: THREADS }),
  );
  await Deno.remove(dir, { recursive: true });
  return { variants, skipped, peer: peer as Awaited<ReturnType<typeof startTorchPeer>> };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Paired rounds: per round and tower every variant once (the order rotates each round), then the
 * peer's SGEMM; prints per tower and variant the median items/s and GFLOP/s, the per-round ratio
 * to the peer (median and range) and the share of the SGEMM rate.
 */
async function pairedRounds(
  variants: { name: string; run: Runner }[],
  sgemm: (() => Promise<void>) | null,
) {
  const settle = () => new Promise((done) => setTimeout(done, SETTLE_MS));
  const ms = new Map<string, number[]>();
  const sgemmRates: number[] = [];
  for (const v of variants) for (const t of TOWERS) await v.run(t); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const tower of TOWERS) {
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(k + round) % variants.length];
        await settle();
        const t0 = performance.now();
        await v.run(tower);
        const key = `${tower}/${v.name}`;
        ms.set(key, [...(ms.get(key) ?? []), performance.now() - t0]);
      }
    }
    if (sgemm) {
      await settle();
      const t0 = performance.now();
      await sgemm();
      sgemmRates.push(SGEMM_FLOPS / (performance.now() - t0) / 1e6);
    }
  }
  const lines = [`\npaired rounds (${ROUNDS}; batch ${BATCH}; medians, ratio range over rounds):`];
  const sgemmRate = sgemmRates.length > 0 ? median(sgemmRates) : NaN;
  if (sgemm) {
    lines.push(
      `  SGEMM 1024x768x3072 on the peer's BLAS (see its banner): ${
        sgemmRate.toFixed(1)
      } GFLOP/s ` +
        `(${Math.min(...sgemmRates).toFixed(1)}-${Math.max(...sgemmRates).toFixed(1)})`,
    );
  }
  const base = variants[0].name.startsWith("PyTorch") ? variants[0] : null;
  for (const tower of TOWERS) {
    lines.push(`  ${GROUPS[tower]}`);
    for (const v of variants) {
      const times = ms.get(`${tower}/${v.name}`)!, m = median(times);
      const unit = `${UNITS[tower]}/s`;
      const gflops = BATCH * FLOPS[tower] / m / 1e6;
      const parts = [
        `${(BATCH / m * 1000).toFixed(2).padStart(7)} ${unit}`,
        `${gflops.toFixed(1).padStart(6)} GFLOP/s`,
      ];
      if (sgemm) parts.push(`${(100 * gflops / sgemmRate).toFixed(0).padStart(3)}% of SGEMM`);
      if (base && base !== v) {
        const ratios = ms.get(`${tower}/${base.name}`)!.map((b, i) => b / times[i]);
        parts.push(
          `${median(ratios).toFixed(2)}x PyTorch ` +
            `(${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`,
        );
      }
      lines.push(`    ${v.name.padEnd(26)} ${parts.join("  ")}`);
    }
  }
  console.log(lines.join("\n"));
}

const UNITS: Record<Tower, string> = { image: "images", text: "reports", text_short: "reports" };
const GROUPS: Record<Tower, string> = {
  image: "image tower 224x224",
  text: `text tower, ${L} tokens`,
  text_short: `text tower, ${SHORT} of ${L} tokens`,
};

const { variants, skipped, peer } = await startVariants();
for (const s of skipped) console.warn(`skipping ${s.name}: ${s.why}`);
if (variants.length > 0 && ROUNDS > 0) {
  await pairedRounds(variants, peer ? () => peer.request("sgemm") : null);
}
for (const tower of TOWERS) {
  const group = `${GROUPS[tower]}, batch ${BATCH}`;
  const work = { flops: BATCH * FLOPS[tower], items: BATCH, unit: UNITS[tower] };
  for (const v of [...variants, ...skipped.map((s) => ({ ...s, run: null }))]) {
    benchThroughput({
      name: `${v.name} ${tower}`,
      group,
      baseline: v.name.startsWith("PyTorch"),
      work,
      ...ITERS,
      ignore: v.run ? false : (v as { why: string }).why,
      fn: () => v.run!(tower),
    });
  }
}
