/**
 * A weights folder as the encoders read it: the two ONNX towers built from an open_clip state
 * dict, the WordPiece vocabulary, and `manifest.json` with each file's SHA-256, the towers'
 * config and the checkpoint's logit scale. Every file is written atomically.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { BiomedClipConfig } from "./biomedclip_config.ts";
import { type ManifestFile, sha256Hex, type WeightsManifest } from "./manifest.ts";
import { buildImageTower, buildTextTower } from "./onnx_builder.ts";
import { type StateDict, toFloat32 } from "./state_dict.ts";

/**
 * File names the import writes inside the output folder.
 * @example
 * ```ts
 * WEIGHT_FILES.image; // "biomedclip-image.onnx"
 * ```
 */
export const WEIGHT_FILES = {
  image: "biomedclip-image.onnx",
  text: "biomedclip-text.onnx",
  vocab: "vocab.txt",
  manifest: "manifest.json",
} as const;

async function writeHashed(dir: string, name: string, bytes: Uint8Array<ArrayBuffer>) {
  await writeFileAtomic(join(dir, name), bytes);
  return { path: name, sha256: await sha256Hex(bytes), bytes: bytes.length } as ManifestFile;
}

/**
 * Throws, naming `source`, unless the vocabulary (one token per line) has the text tower's size.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BIOMEDCLIP_CONFIG } from "./biomedclip_config.ts";
 * const path = "weights/demo/vocab.txt";
 * const bytes = await Deno.readFile(path);
 * assert.throws(() => checkVocabulary(bytes, BIOMEDCLIP_CONFIG, path), /230 tokens, the text/);
 * ```
 */
export function checkVocabulary(bytes: Uint8Array, config: BiomedClipConfig, source: string): void {
  const tokens = new TextDecoder().decode(bytes).replace(/\r?\n$/, "").split(/\r?\n/);
  if (tokens.length !== config.text.vocabSize) {
    throw new Error(
      `${source}: ${tokens.length} tokens, the text tower's config has ` +
        `vocabSize ${config.text.vocabSize}`,
    );
  }
}

/**
 * Writes a weights folder from a checked state dict: both ONNX towers, the vocabulary and the
 * manifest (each file atomically); returns the manifest.
 * @example
 * ```ts
 * import { demoConfig, demoStateDict, demoVocabulary } from "./demo_weights.ts";
 * const vocab = demoVocabulary();
 * const config = demoConfig(vocab.length);
 * const vocabBytes = new TextEncoder().encode(vocab.join("\n") + "\n");
 * const out = await Deno.makeTempDir();
 * const source = { checkpoint: "random demo weights", sha256: "none" };
 * await writeWeightsFolder(out, config, demoStateDict(config, 1), vocabBytes, source);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function writeWeightsFolder(
  out: string,
  config: BiomedClipConfig,
  sd: StateDict,
  vocabBytes: Uint8Array<ArrayBuffer>,
  source: { checkpoint: string; sha256: string; importedAt?: string },
  log: (line: string) => void = () => {},
): Promise<WeightsManifest> {
  checkVocabulary(vocabBytes, config, "vocabulary");
  await Deno.mkdir(out, { recursive: true });
  const files = {} as WeightsManifest["files"];
  for (
    const [role, name, build] of [
      ["image", WEIGHT_FILES.image, () => buildImageTower(config, sd)],
      ["text", WEIGHT_FILES.text, () => buildTextTower(config, sd)],
      ["vocab", WEIGHT_FILES.vocab, () => vocabBytes],
    ] as const
  ) {
    const t0 = performance.now();
    files[role] = await writeHashed(out, name, build() as Uint8Array<ArrayBuffer>);
    log(
      `wrote ${join(out, name)}: ${(files[role].bytes / 2 ** 20).toFixed(1)} MiB ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  const manifest: WeightsManifest = {
    format: 1,
    config,
    logitScale: toFloat32(sd.get("logit_scale")!, "logit_scale")[0],
    files,
    source: { importedAt: new Date().toISOString(), ...source },
  };
  await writeFileAtomic(
    join(out, WEIGHT_FILES.manifest),
    new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"),
  );
  log(`wrote ${join(out, WEIGHT_FILES.manifest)} (logit_scale ${manifest.logitScale.toFixed(4)})`);
  return manifest;
}
