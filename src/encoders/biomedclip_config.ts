/**
 * Sizes of BiomedCLIP's two towers, and the names of the ONNX models' inputs and outputs. The
 * same graph builder, importer and encoders serve the real model ({@link BIOMEDCLIP_CONFIG}) and
 * the tiny test model ({@link TINY_CONFIG}).
 *
 * @module
 */

/** ViT image tower (timm `vit_base_patch16_224` semantics) and its linear head. */
export interface VisionTowerConfig {
  /** Input height = width in pixels. */
  imageSize: number;
  /** Patch size (conv kernel = stride). */
  patchSize: number;
  /** Hidden width. */
  width: number;
  /** Transformer blocks. */
  layers: number;
  /** Attention heads (width must be divisible). */
  heads: number;
  /** MLP hidden size. */
  mlpDim: number;
  /** LayerNorm epsilon (timm ViT: 1e-6). */
  lnEps: number;
}

/** BERT text tower (HF `BertModel` semantics), CLS pooling and its MLP head. */
export interface TextTowerConfig {
  /** WordPiece vocabulary size. */
  vocabSize: number;
  /** Tokens per text (the model's fixed sequence length). */
  contextLength: number;
  /** Rows of the position embedding table (>= contextLength). */
  maxPositions: number;
  /** Rows of the token type embedding table (type 0 is used). */
  typeVocabSize: number;
  /** Hidden width. */
  width: number;
  /** Transformer layers. */
  layers: number;
  /** Attention heads (width must be divisible). */
  heads: number;
  /** Feed-forward hidden size. */
  intermediate: number;
  /** Hidden size of the MLP head (open_clip: (width + embedDim) / 2). */
  projHidden: number;
  /** LayerNorm epsilon (BERT: 1e-12). */
  lnEps: number;
}

/** Both towers and the shared embedding size. */
export interface BiomedClipConfig {
  /** Output embedding size of both towers. */
  embedDim: number;
  /** Image tower. */
  vision: VisionTowerConfig;
  /** Text tower. */
  text: TextTowerConfig;
}

/**
 * microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224: ViT-B/16 at 224, BiomedBERT base,
 * context 256, embeddings of 512.
 * @example
 * ```ts
 * console.log(BIOMEDCLIP_CONFIG.vision.width); // 768
 * ```
 */
export const BIOMEDCLIP_CONFIG: BiomedClipConfig = {
  embedDim: 512,
  vision: {
    imageSize: 224,
    patchSize: 16,
    width: 768,
    layers: 12,
    heads: 12,
    mlpDim: 3072,
    lnEps: 1e-6,
  },
  text: {
    vocabSize: 30522,
    contextLength: 256,
    maxPositions: 512,
    typeVocabSize: 2,
    width: 768,
    layers: 12,
    heads: 12,
    intermediate: 3072,
    projHidden: 640,
    lnEps: 1e-12,
  },
};

/**
 * A tiny model with the same structure, for tests and committed fixtures.
 * @example
 * ```ts
 * console.log(TINY_CONFIG.text.contextLength); // 16
 * ```
 */
export const TINY_CONFIG: BiomedClipConfig = {
  embedDim: 16,
  vision: { imageSize: 32, patchSize: 16, width: 32, layers: 2, heads: 2, mlpDim: 64, lnEps: 1e-6 },
  text: {
    vocabSize: 120,
    contextLength: 16,
    maxPositions: 20,
    typeVocabSize: 2,
    width: 32,
    layers: 2,
    heads: 2,
    intermediate: 64,
    projHidden: 24,
    lnEps: 1e-12,
  },
};

/**
 * Names of the image model's input and output.
 * @example
 * ```ts
 * IMAGE_IO.input; // "pixel_values"
 * ```
 */
export const IMAGE_IO = { input: "pixel_values", output: "image_embeds" } as const;

/**
 * Names of the text model's inputs and output.
 * @example
 * ```ts
 * TEXT_IO.mask; // "attention_mask"
 * ```
 */
export const TEXT_IO = {
  ids: "input_ids",
  mask: "attention_mask",
  output: "text_embeds",
} as const;

/**
 * Throws naming the first inconsistent field (non-positive sizes, width not divisible by
 * heads, image size not a multiple of the patch, context longer than the position table).
 * @example
 * ```ts
 * checkConfig(BIOMEDCLIP_CONFIG);
 * ```
 */
export function checkConfig(c: BiomedClipConfig): void {
  checkTowerFields(c, BIOMEDCLIP_CONFIG);
  const t = c.text;
  if (t.width % t.heads) throw new Error(`config text.width ${t.width} % heads ${t.heads} != 0`);
  if (t.contextLength > t.maxPositions) {
    throw new Error(
      `config text.contextLength ${t.contextLength} > maxPositions ${t.maxPositions}`,
    );
  }
}

/**
 * Checks the fields both model families share: `embedDim`, and `vision` and `text` with exactly
 * the fields of `like` (each a positive int, `lnEps` a positive number); the vision tower's width
 * divisible by its heads and its image size by its patch size. Throws naming the first bad field.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const bad = { ...BIOMEDCLIP_CONFIG, vision: { ...BIOMEDCLIP_CONFIG.vision, patchSize: 15 } };
 * assert.throws(() => checkTowerFields(bad, BIOMEDCLIP_CONFIG), /not a multiple of 15/);
 * ```
 */
export function checkTowerFields(
  c: { embedDim: number; vision: VisionTowerConfig; text: object },
  like: { vision: object; text: object },
): void {
  const fields = (got: object | undefined, want: object, where: string) => {
    if (typeof got !== "object" || got === null) throw new Error(`config ${where} is missing`);
    for (const k of Object.keys(got)) {
      if (!(k in want)) throw new Error(`config ${where}${k}: unknown field`);
    }
    for (const k of Object.keys(want)) {
      const v = (got as Record<string, unknown>)[k];
      const ok = typeof v === "number" && v > 0 && (k === "lnEps" || Number.isInteger(v));
      if (!ok) {
        throw new Error(
          `config ${where}${k}: ${v} is not a positive ${k === "lnEps" ? "number" : "int"}`,
        );
      }
    }
  };
  fields({ embedDim: c?.embedDim }, { embedDim: 0 }, "");
  fields(c.vision, like.vision, "vision.");
  fields(c.text, like.text, "text.");
  const v = c.vision;
  if (v.width % v.heads) throw new Error(`config vision.width ${v.width} % heads ${v.heads} != 0`);
  if (v.imageSize % v.patchSize) {
    throw new Error(`config vision.imageSize ${v.imageSize} is not a multiple of ${v.patchSize}`);
  }
}
