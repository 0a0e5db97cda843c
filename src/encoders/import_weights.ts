/**
 * Imports BiomedCLIP's official open_clip checkpoint as the two ONNX towers the encoders run:
 * the checkpoint is read without executing pickle, every tensor's shape is checked against the
 * config, and the output folder gets both towers, the vocabulary and `manifest.json`.
 *
 * @module
 */

import { basename } from "node:path";
import { BIOMEDCLIP_CONFIG, type BiomedClipConfig, checkConfig } from "./biomedclip_config.ts";
import { sha256Hex, type WeightsManifest } from "./manifest.ts";
import { checkOpenClipStateDict, parseStateDict } from "./open_clip_weights.ts";
import { checkVocabulary, writeWeightsFolder } from "./weights_folder.ts";

/** Options of {@link importWeights}. */
export interface ImportOptions {
  /** open_clip checkpoint: PyTorch zip (`.bin`, `.pt`) or `.safetensors`. */
  checkpoint: string;
  /** WordPiece `vocab.txt`, one token per line. */
  vocab: string;
  /** Output folder (created if missing). */
  out: string;
  /** Tower sizes (default {@link BIOMEDCLIP_CONFIG}). */
  config?: BiomedClipConfig;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/**
 * Imports an open_clip BiomedCLIP checkpoint: checks it, builds both ONNX towers, copies the
 * vocabulary and writes the manifest; returns the manifest.
 * @example
 * ```ts
 * import { TINY_CONFIG } from "./biomedclip_config.ts";
 * const out = await Deno.makeTempDir();
 * const m = await importWeights({
 *   checkpoint: "tests/fixtures/biomedclip_tiny/open_clip_tiny.bin", // open_clip_pytorch_model.bin
 *   vocab: "tests/fixtures/biomedclip_tiny/vocab.txt", // BiomedBERT's vocab.txt
 *   out, // weights
 *   config: TINY_CONFIG, // the default is BIOMEDCLIP_CONFIG
 * });
 * m.files.image.path; // "biomedclip-image.onnx"
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function importWeights(opts: ImportOptions): Promise<WeightsManifest> {
  const config = opts.config ?? BIOMEDCLIP_CONFIG;
  const log = opts.log ?? (() => {});
  checkConfig(config);
  const vocabBytes = await Deno.readFile(opts.vocab);
  checkVocabulary(vocabBytes, config, opts.vocab);
  const t0 = performance.now();
  const ckptBytes = await Deno.readFile(opts.checkpoint);
  const sd = parseStateDict(ckptBytes, opts.checkpoint);
  checkOpenClipStateDict(sd, config, opts.checkpoint);
  log(
    `read ${opts.checkpoint}: ${sd.size} tensors, shapes match the config ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return await writeWeightsFolder(opts.out, config, sd, vocabBytes, {
    checkpoint: basename(opts.checkpoint),
    sha256: await sha256Hex(ckptBytes),
  }, log);
}
