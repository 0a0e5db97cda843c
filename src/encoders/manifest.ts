/**
 * `weights/manifest.json`: what `deno task weights import` wrote (the two ONNX towers and the
 * tokenizer's vocabulary, each with its SHA-256), the model family, the towers' config, and the
 * checkpoint's logit scale. A manifest without `family` is BiomedCLIP's (every folder written
 * before OpenAI CLIP was supported, and the demo's, whose bytes must not change).
 *
 * @module
 */

import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { BIOMEDCLIP_CONFIG, type BiomedClipConfig, checkConfig } from "./biomedclip_config.ts";
import { checkClipConfig, CLIP_VIT_B_16_CONFIG, type ClipConfig } from "./clip_config.ts";

/**
 * The model families a weights folder may hold: BiomedCLIP (ViT + BERT, WordPiece `vocab.txt`)
 * or OpenAI CLIP (ViT + causal text transformer, byte-level BPE `tokenizer.json`).
 * @example
 * ```ts
 * const family: ModelFamily = "openai-clip";
 * ```
 */
export type ModelFamily = "biomedclip" | "openai-clip";

/** One file of the weights folder. */
export interface ManifestFile {
  /** Path relative to the manifest's folder. */
  path: string;
  /** Hex SHA-256 of the file's bytes. */
  sha256: string;
  /** Size in bytes. */
  bytes: number;
}

/** What every manifest holds. */
interface ManifestCommon {
  /** Manifest format version (1). */
  format: 1;
  /** The checkpoint's raw `logit_scale` parameter; scores use `exp(logitScale)`. */
  logitScale: number;
  /** The ONNX models and the tokenizer vocabulary (`vocab.txt` or `tokenizer.json`). */
  files: { image: ManifestFile; text: ManifestFile; vocab: ManifestFile };
  /** Where the weights came from. */
  source: { checkpoint: string; sha256: string; importedAt: string };
}

/** A BiomedCLIP folder's manifest (no `family` field, as written before CLIP). */
export interface BiomedClipManifest extends ManifestCommon {
  /** Absent, or "biomedclip". */
  family?: "biomedclip";
  /** Tower sizes the ONNX models were built with. */
  config: BiomedClipConfig;
}

/** An OpenAI CLIP folder's manifest. */
export interface ClipManifest extends ManifestCommon {
  /** "openai-clip". */
  family: "openai-clip";
  /** Tower sizes the ONNX models were built with. */
  config: ClipConfig;
}

/** Contents of `manifest.json`: the fields both families share are read without a check. */
export type WeightsManifest = BiomedClipManifest | ClipManifest;

/**
 * The manifest's model family ("biomedclip" when the field is absent).
 * @example
 * ```ts
 * modelFamily(await readManifest("weights/demo")); // "biomedclip"
 * ```
 */
export function modelFamily(m: WeightsManifest): ModelFamily {
  return m.family ?? "biomedclip";
}

/**
 * The published model a manifest records, by its family and its towers' config: "BiomedCLIP"
 * (no family, or "biomedclip", at BiomedCLIP's full size) or "CLIP ViT-B/16" ("openai-clip" at
 * ViT-B/16's size); null otherwise (the demo's small towers, a custom size). The manifest says
 * which importer read the checkpoint and that its shapes are the published model's; nothing is
 * inferred from an encoder id.
 * @example
 * ```ts
 * encoderFamilyName(await readManifest("weights/demo")); // null: small random towers
 * ```
 */
export function encoderFamilyName(m: WeightsManifest): string | null {
  if (m.family === "openai-clip") {
    return isDeepStrictEqual(m.config, CLIP_VIT_B_16_CONFIG) ? "CLIP ViT-B/16" : null;
  }
  return isDeepStrictEqual(m.config, BIOMEDCLIP_CONFIG) ? "BiomedCLIP" : null;
}

/**
 * Hex SHA-256 of some bytes.
 * @example
 * ```ts
 * await sha256Hex(new Uint8Array()); // "e3b0c442..."
 * ```
 */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads `manifest.json` from a weights folder; with `verify`, re-hashes every file and throws
 * naming the first one whose size or SHA-256 differs.
 * @example
 * ```ts
 * const m = await readManifest("weights/demo", { verify: true });
 * console.log(m.config.embedDim, Math.exp(m.logitScale)); // 128 14.28…
 * ```
 */
export async function readManifest(
  dir: string,
  opts: { verify?: boolean } = {},
): Promise<WeightsManifest> {
  const path = join(dir, "manifest.json");
  let m: WeightsManifest;
  try {
    m = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(
      `${path}: cannot read the weights manifest (${(e as Error).message}); ` +
        "run `deno task weights import <open_clip_pytorch_model.bin> --vocab <vocab.txt>` first",
    );
  }
  if (m.format !== 1 || !m.files?.image || !m.files?.text || !m.files?.vocab || !m.config) {
    throw new Error(`${path}: not a format-1 weights manifest`);
  }
  if (m.family === "openai-clip") checkClipConfig(m.config);
  else if (m.family === undefined || m.family === "biomedclip") checkConfig(m.config);
  else throw new Error(`${path}: family ${JSON.stringify(m.family)} is not one this version reads`);
  if (opts.verify) {
    for (const [role, f] of Object.entries(m.files)) {
      const bytes = await Deno.readFile(join(dir, f.path));
      const sum = await sha256Hex(bytes);
      if (bytes.length !== f.bytes || sum !== f.sha256) {
        throw new Error(
          `${join(dir, f.path)} (${role}): ${bytes.length} bytes, sha256 ${sum}; the manifest ` +
            `says ${f.bytes} bytes, sha256 ${f.sha256}. Re-run the weights import.`,
        );
      }
    }
  }
  return m;
}
