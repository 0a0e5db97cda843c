/**
 * Imports OpenAI CLIP ViT-B/16 (or any size given by a {@link ClipConfig}) into a weights
 * folder the encoders and the embedding cache read like BiomedCLIP's: `clip-image.onnx`,
 * `clip-text.onnx`, `tokenizer.json` and `manifest.json` with `family: "openai-clip"`.
 *
 * The checkpoint may be open_clip's `open_clip_pytorch_model.bin` for `ViT-B-16` /
 * `openai` (a state dict), a `.safetensors` of the same keys, or OpenAI's own TorchScript
 * `ViT-B-16.pt` (float16); all are read without executing pickle. The tokenizer may be
 * `bpe_simple_vocab_16e6.txt.gz` (shipped with open_clip and OpenAI's `clip` package), a Hugging
 * Face `tokenizer.json`, or `vocab.json` with `merges.txt` beside it.
 *
 * @module
 */

import { basename, join } from "node:path";
import { checkClipConfig, CLIP_VIT_B_16_CONFIG, type ClipConfig } from "./clip_config.ts";
import { buildClipImageTower, buildClipTextTower } from "./clip_onnx_builder.ts";
import { ClipTokenizer } from "./clip_tokenizer.ts";
import { clipTokenizerJson, readClipTokenizer } from "./clip_tokenizer_files.ts";
import { checkClipStateDict } from "./clip_weights.ts";
import { modelFamily, sha256Hex, type WeightsManifest } from "./manifest.ts";
import { parseStateDict } from "./open_clip_weights.ts";
import { WordPieceTokenizer } from "./tokenizer.ts";
import { writeTowerFolder } from "./weights_folder.ts";

/**
 * File names of an OpenAI CLIP weights folder.
 * @example
 * ```ts
 * CLIP_WEIGHT_FILES.vocab; // "tokenizer.json"
 * ```
 */
export const CLIP_WEIGHT_FILES = {
  image: "clip-image.onnx",
  text: "clip-text.onnx",
  vocab: "tokenizer.json",
  manifest: "manifest.json",
} as const;

/** Options of {@link importClipWeights}. */
export interface ClipImportOptions {
  /** Checkpoint: open_clip state dict (`.bin`, `.pt`), `.safetensors`, or TorchScript `.pt`. */
  checkpoint: string;
  /** `bpe_simple_vocab_16e6.txt.gz`, `tokenizer.json`, or `vocab.json` (+ `merges.txt`). */
  tokenizer: string;
  /** Output folder (created if missing). */
  out: string;
  /** Tower sizes (default {@link CLIP_VIT_B_16_CONFIG}). */
  config?: ClipConfig;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/**
 * Imports an OpenAI CLIP checkpoint and tokenizer: checks both against the config, builds the
 * two ONNX towers, writes the tokenizer as `tokenizer.json` and the manifest; returns the
 * manifest.
 * @example
 * ```ts
 * import { CLIP_TINY_CONFIG } from "./clip_config.ts";
 * const out = await Deno.makeTempDir();
 * const m = await importClipWeights({
 *   checkpoint: "tests/fixtures/clip_tiny/open_clip_tiny.bin", // open_clip_pytorch_model.bin
 *   tokenizer: "tests/fixtures/clip_tiny/bpe_tiny.txt", // bpe_simple_vocab_16e6.txt.gz
 *   out, // weights/clip
 *   config: CLIP_TINY_CONFIG, // the default is CLIP_VIT_B_16_CONFIG
 * });
 * m.family; // "openai-clip"
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function importClipWeights(opts: ClipImportOptions): Promise<WeightsManifest> {
  const config = opts.config ?? CLIP_VIT_B_16_CONFIG;
  const log = opts.log ?? (() => {});
  checkClipConfig(config);
  const bpe = await readClipTokenizer(opts.tokenizer);
  if (bpe.vocab.size !== config.text.vocabSize) {
    throw new Error(
      `${opts.tokenizer}: ${bpe.vocab.size} tokens, the text tower's config has ` +
        `vocabSize ${config.text.vocabSize}`,
    );
  }
  const t0 = performance.now();
  const ckptBytes = await Deno.readFile(opts.checkpoint);
  const sd = parseStateDict(ckptBytes, opts.checkpoint);
  checkClipStateDict(sd, config, opts.checkpoint);
  log(
    `read ${opts.checkpoint}: ${sd.size} tensors, shapes match the config ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const json = new TextEncoder().encode(JSON.stringify(clipTokenizerJson(bpe)) + "\n");
  const files = {
    image: { name: CLIP_WEIGHT_FILES.image, build: () => buildClipImageTower(config, sd) },
    text: { name: CLIP_WEIGHT_FILES.text, build: () => buildClipTextTower(config, sd) },
    vocab: { name: CLIP_WEIGHT_FILES.vocab, build: () => json },
  };
  return await writeTowerFolder(opts.out, files, { family: "openai-clip", config, sd }, {
    checkpoint: basename(opts.checkpoint),
    sha256: await sha256Hex(ckptBytes),
  }, log);
}

/**
 * The tokenizer of a weights folder, by its manifest's family: BiomedCLIP's WordPiece
 * (`vocab.txt`) or OpenAI CLIP's byte-level BPE (`tokenizer.json`). Both have `tokenize` and
 * `encodeBatch(texts, contextLength)`.
 * @example
 * ```ts
 * import { readManifest } from "./manifest.ts";
 * const manifest = await readManifest("weights/demo");
 * const tok = await openTokenizer("weights/demo", manifest);
 * tok.encodeBatch(["No effusion."], manifest.config.text.contextLength).ids.length; // 256
 * ```
 */
export async function openTokenizer(
  dir: string,
  manifest: WeightsManifest,
): Promise<WordPieceTokenizer | ClipTokenizer> {
  const path = join(dir, manifest.files.vocab.path);
  if (modelFamily(manifest) === "biomedclip") return await WordPieceTokenizer.fromVocabFile(path);
  const bpe = await readClipTokenizer(path);
  return new ClipTokenizer(bpe.vocab, bpe.merges, path);
}
