/**
 * The SYNTHETIC demo's encoders: small towers of BiomedCLIP's exact architecture (ViT image tower
 * at 224 px, BERT text tower) with fixed seeded random weights, built by our own ONNX graph
 * builder, and a WordPiece vocabulary made from the words of the synthetic report templates. They
 * are committed under `weights/demo/` so the demo needs no download; `deno task weights demo`
 * rebuilds them byte for byte. Random weights are no medical model: they only give the demo
 * frozen features that a trained projector head can learn from.
 *
 * @module
 */

import { writeWeightsFolder } from "./weights_folder.ts";
import { sampleAnatomy, sampleStudy } from "../data/synthetic_study.ts";
import { writeSyntheticReport } from "../data/synthetic_report.ts";
import { Rng } from "../util/rng.ts";
import type { BiomedClipConfig } from "./biomedclip_config.ts";
import type { WeightsManifest } from "./manifest.ts";
import { randomOpenClipStateDict } from "./open_clip_weights.ts";
import type { StateDict } from "./state_dict.ts";

/** Seed of the demo weights. */
export const DEMO_SEED = 20260123;

/** BERT's special tokens, first in the demo vocabulary. */
const SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/**
 * The demo vocabulary: special tokens, every word and punctuation mark of many synthetic reports,
 * and single characters with their `##` continuations so any other word still tokenizes.
 * @example
 * ```ts
 * const vocab = demoVocabulary();
 * vocab.slice(0, 5); // ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
 * ```
 */
export function demoVocabulary(): string[] {
  const rng = new Rng(DEMO_SEED);
  const words = new Set<string>();
  for (let i = 0; i < 4000; i++) {
    const study = sampleStudy(rng, sampleAnatomy(rng));
    const report = writeSyntheticReport(study.findings, rng).toLowerCase();
    for (const w of report.match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? []) words.add(w);
  }
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789".split("");
  const punctuation = ".,;:!?()[]{}-/'\"%+<>=&*#@".split("");
  const all = new Set([
    ...chars,
    ...punctuation,
    ...chars.map((c) => `##${c}`),
    ...[...words].sort(),
  ]);
  return [...SPECIAL, ...[...all].filter((t) => !SPECIAL.includes(t))];
}

/**
 * Tower sizes of the demo encoders for a vocabulary of `vocabSize` tokens: 224 px ViT with 16 px
 * patches, width 64, 2 layers; BERT width 64, 2 layers; 128-wide embeddings.
 * @example
 * ```ts
 * demoConfig(500).embedDim; // 128
 * ```
 */
export function demoConfig(vocabSize: number): BiomedClipConfig {
  return {
    embedDim: 128,
    vision: {
      imageSize: 224,
      patchSize: 16,
      width: 64,
      layers: 2,
      heads: 2,
      mlpDim: 128,
      lnEps: 1e-6,
    },
    text: {
      vocabSize,
      contextLength: 256,
      maxPositions: 256,
      typeVocabSize: 2,
      width: 64,
      layers: 2,
      heads: 2,
      intermediate: 128,
      projHidden: 96,
      lnEps: 1e-12,
    },
  };
}

/**
 * Seeded random weights for the demo towers. open_clip's std-0.02 initialization (what
 * {@link randomOpenClipStateDict} draws) leaves an untrained transformer's output almost the same
 * for every input: the CLS token's own embedding dominates the residual stream. So every linear
 * and convolution weight is rescaled to std 1/√fan_in (Xavier-like), the image class token and
 * position embedding to the patches' scale, and queries and keys are zero (uniform attention, see
 * below): the towers become random-feature encoders whose embeddings tell inputs apart.
 * @example
 * ```ts
 * const sd = demoStateDict(demoConfig(300), 1);
 * ```
 */
export function demoStateDict(config: BiomedClipConfig, seed: number): StateDict {
  const sd = randomOpenClipStateDict(config, seed);
  const width = config.vision.width;
  for (const [key, t] of sd) {
    const data = t.data as Float32Array;
    const isWeight = key.endsWith(".weight") && t.shape.length >= 2 && !key.includes("embeddings.");
    if (isWeight) {
      const scale = 1 / Math.sqrt(t.shape.slice(1).reduce((a, b) => a * b, 1)) / 0.02;
      for (let i = 0; i < data.length; i++) data[i] *= scale;
    }
    // Image position embedding and class token on the scale of the patch embeddings.
    if (key.endsWith("pos_embed") || key.endsWith("cls_token")) {
      for (let i = 0; i < data.length; i++) {
        data[i] *= 50;
      }
    }
    // Zero queries and keys: every token attends uniformly to all (unmasked) tokens, so the CLS
    // token pools random nonlinear features of every patch / word (a random-feature mean
    // embedding) instead of random attention patterns that wash the content out.
    if (/attn\.qkv\.(weight|bias)$/.test(key)) {
      data.fill(0, 0, 2 * width * (t.shape.length === 2 ? width : 1));
    }
    if (/attention\.self\.(query|key)\./.test(key)) data.fill(0);
  }
  return sd;
}

/**
 * Builds the demo encoders into `out` (default `weights/demo`); deterministic.
 * @example
 * ```ts
 * const out = await Deno.makeTempDir(); // `deno task weights demo` writes weights/demo
 * const manifest = await buildDemoWeights(out);
 * manifest.files.image.sha256; // "a7d1cb82…", as in weights/demo/manifest.json: deterministic
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function buildDemoWeights(
  out: string,
  log: (line: string) => void = () => {},
): Promise<WeightsManifest> {
  const vocab = demoVocabulary();
  const config = demoConfig(vocab.length);
  const sd = demoStateDict(config, DEMO_SEED);
  const vocabBytes = new TextEncoder().encode(vocab.join("\n") + "\n");
  return await writeWeightsFolder(out, config, sd, vocabBytes, {
    checkpoint: `SYNTHETIC demo: random weights, seed ${DEMO_SEED}`,
    sha256: "none",
    importedAt: "generated (deno task weights demo)",
  }, log);
}
