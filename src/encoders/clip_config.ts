/**
 * Sizes of OpenAI CLIP's two towers (open_clip's `ViT-B-16` with OpenAI weights): the image
 * tower is a ViT with the fields of BiomedCLIP's ({@link VisionTowerConfig}), the text tower a
 * causal transformer over CLIP's byte-level BPE tokens. The same graph builder, importer and
 * encoders serve the real model ({@link CLIP_VIT_B_16_CONFIG}) and the tiny test model
 * ({@link CLIP_TINY_CONFIG}).
 *
 * @module
 */

import { checkTowerFields, type VisionTowerConfig } from "./biomedclip_config.ts";

/** CLIP's text tower: token + position embeddings, causal pre-LN blocks, `ln_final`. */
export interface CausalTextConfig {
  /** BPE vocabulary size (OpenAI CLIP: 49,408, the last two ids the start and end tokens). */
  vocabSize: number;
  /** Tokens per text; also the rows of the position embedding. */
  contextLength: number;
  /** Hidden width. */
  width: number;
  /** Transformer blocks. */
  layers: number;
  /** Attention heads (width must be divisible). */
  heads: number;
  /** MLP hidden size (CLIP: 4 · width). */
  mlpDim: number;
  /** LayerNorm epsilon (PyTorch's default, 1e-5). */
  lnEps: number;
}

/** Both towers of a CLIP model and the shared embedding size. */
export interface ClipConfig {
  /** Output embedding size of both towers. */
  embedDim: number;
  /** Image tower (`visual.*`). */
  vision: VisionTowerConfig;
  /** Text tower (`token_embedding`, `transformer.*`, `ln_final`, `text_projection`). */
  text: CausalTextConfig;
}

/**
 * OpenAI CLIP ViT-B/16 (open_clip `ViT-B-16`, pretrained `openai`): ViT-B/16 at 224, a 12-layer
 * 512-wide causal text transformer with 8 heads, context 77, embeddings of 512.
 * @example
 * ```ts
 * console.log(CLIP_VIT_B_16_CONFIG.text.contextLength); // 77
 * ```
 */
export const CLIP_VIT_B_16_CONFIG: ClipConfig = {
  embedDim: 512,
  vision: {
    imageSize: 224,
    patchSize: 16,
    width: 768,
    layers: 12,
    heads: 12,
    mlpDim: 3072,
    lnEps: 1e-5,
  },
  text: {
    vocabSize: 49408,
    contextLength: 77,
    width: 512,
    layers: 12,
    heads: 8,
    mlpDim: 2048,
    lnEps: 1e-5,
  },
};

/**
 * A tiny model with the same structure, for tests and committed fixtures; its vocabulary is a
 * 300-merge BPE learned from the IU X-ray reports (`tests/fixtures/clip_tiny/bpe_tiny.txt`).
 * @example
 * ```ts
 * console.log(CLIP_TINY_CONFIG.text.vocabSize); // 814: 512 byte tokens, 300 merges, start, end
 * ```
 */
export const CLIP_TINY_CONFIG: ClipConfig = {
  embedDim: 16,
  vision: { imageSize: 32, patchSize: 16, width: 32, layers: 2, heads: 2, mlpDim: 64, lnEps: 1e-5 },
  text: {
    vocabSize: 814,
    contextLength: 16,
    width: 32,
    layers: 2,
    heads: 2,
    mlpDim: 64,
    lnEps: 1e-5,
  },
};

/**
 * Throws naming the first inconsistent field (missing, unknown or non-positive sizes, widths not
 * divisible by heads, image size not a multiple of the patch).
 * @example
 * ```ts
 * checkClipConfig(CLIP_VIT_B_16_CONFIG);
 * ```
 */
export function checkClipConfig(c: ClipConfig): void {
  checkTowerFields(c, CLIP_VIT_B_16_CONFIG);
  const t = c.text;
  if (t.width % t.heads) throw new Error(`config text.width ${t.width} % heads ${t.heads} != 0`);
}
