/**
 * Builds BiomedCLIP's two towers as ONNX models (opset 17, dynamic batch) from an open_clip
 * state dict:
 *
 * - image: `pixel_values` [batch, 3, S, S] float32 → timm ViT (conv patch embedding, class
 *   token, learned position embedding, pre-norm blocks LN → MHSA → residual, LN → MLP(GELU) →
 *   residual, final LN on the CLS token) → linear head without bias → `image_embeds`
 *   [batch, E].
 * - text: `input_ids`, `attention_mask` [batch, sequence] int64, sequence <= L (the context
 *   length) → BERT (word + position + token-type 0 embeddings, LN, post-norm layers with the
 *   additive mask `(1 - mask) · float32.min`) → CLS of the last hidden state → Linear → GELU →
 *   Linear, no biases → `text_embeds` [batch, E]. The sequence axis is dynamic so padding can be
 *   cut: masked positions get exactly zero attention weight, so a text's embedding is the same
 *   whether its 256-token row is run whole or cut after its last unmasked token.
 *
 * Embeddings are not normalized. GELU is the exact erf form (`0.5·x·(1 + erf(x/√2))`, built from
 * Erf since ONNX's Gelu needs opset 20). Linear weights are stored transposed ([in, out]) for
 * MatMul; the three BERT projections Q, K, V are concatenated like timm's fused qkv, so both
 * towers share one attention subgraph.
 *
 * @module
 */

import { type BiomedClipConfig, IMAGE_IO, TEXT_IO } from "./biomedclip_config.ts";
import { FLOAT32_MIN, Tower, transpose } from "./onnx_tower.ts";
import { openClipShapes } from "./open_clip_weights.ts";
import type { StateDict } from "./state_dict.ts";

/**
 * ONNX opset of the default domain used by both towers.
 * @example
 * ```ts
 * console.log(OPSET); // 17
 * ```
 */
export const OPSET = 17;

function modelProps(config: BiomedClipConfig, tower: string): Record<string, string> {
  return { tower, config: JSON.stringify(config) };
}

/**
 * Builds the image tower as ONNX bytes from an open_clip state dict (keys `visual.*`).
 * @example
 * ```ts
 * import { TINY_CONFIG } from "./biomedclip_config.ts";
 * import { randomOpenClipStateDict } from "./open_clip_weights.ts";
 * const onnx = buildImageTower(TINY_CONFIG, randomOpenClipStateDict(TINY_CONFIG, 0));
 * ```
 */
export function buildImageTower(config: BiomedClipConfig, sd: StateDict): Uint8Array {
  const c = config.vision, W = c.width;
  const t = new Tower("biomedclip_image", sd, openClipShapes(config)), g = t.g;
  const x = g.input(IMAGE_IO.input, "float32", ["batch", 3, c.imageSize, c.imageSize]);
  const V = "visual.trunk.";
  const patches = g.op("Conv", [
    x,
    t.weight(`${V}patch_embed.proj.weight`),
    t.weight(`${V}patch_embed.proj.bias`),
  ], { kernel_shape: [c.patchSize, c.patchSize], strides: [c.patchSize, c.patchSize] });
  const tokens = t.withClassToken(x, patches, `${V}cls_token`, W);
  let h = g.op("Add", [tokens, t.weight(`${V}pos_embed`)]);
  for (let i = 0; i < c.layers; i++) {
    const b = `${V}blocks.${i}.`;
    const a = t.attention(
      t.layerNorm(h, `${b}norm1`, c.lnEps),
      t.weightT(`${b}attn.qkv.weight`),
      t.weight(`${b}attn.qkv.bias`),
      { wT: t.weightT(`${b}attn.proj.weight`), b: t.weight(`${b}attn.proj.bias`) },
      W,
      c.heads,
    );
    h = g.op("Add", [h, a]);
    const m1 = t.linear(
      t.layerNorm(h, `${b}norm2`, c.lnEps),
      t.weightT(`${b}mlp.fc1.weight`),
      t.weight(`${b}mlp.fc1.bias`),
    );
    const m2 = t.linear(t.gelu(m1), t.weightT(`${b}mlp.fc2.weight`), t.weight(`${b}mlp.fc2.bias`));
    h = g.op("Add", [h, m2]);
  }
  // The final LayerNorm is per token, so normalizing only the CLS token gives the same result.
  const pooled = t.layerNorm(t.cls(h), `${V}norm`, c.lnEps);
  const out = t.linear(pooled, t.weightT("visual.head.proj.weight"));
  g.output(out, IMAGE_IO.output, "float32", ["batch", config.embedDim]);
  return g.toModel({
    opset: OPSET,
    producer: "cxr-retrieval",
    doc: "BiomedCLIP image tower (timm ViT + linear head)",
    props: modelProps(config, "image"),
  });
}

/**
 * Builds the text tower as ONNX bytes from an open_clip state dict (keys `text.*`).
 * @example
 * ```ts
 * import { TINY_CONFIG } from "./biomedclip_config.ts";
 * import { randomOpenClipStateDict } from "./open_clip_weights.ts";
 * const onnx = buildTextTower(TINY_CONFIG, randomOpenClipStateDict(TINY_CONFIG, 0));
 * ```
 */
export function buildTextTower(config: BiomedClipConfig, sd: StateDict): Uint8Array {
  const c = config.text, W = c.width, L = c.contextLength;
  const t = new Tower("biomedclip_text", sd, openClipShapes(config)), g = t.g;
  const ids = g.input(TEXT_IO.ids, "int64", ["batch", "sequence"]);
  const mask = g.input(TEXT_IO.mask, "int64", ["batch", "sequence"]);
  const T = "text.transformer.";
  // Position rows 0..L-1 plus token type 0, folded into one [L, W] table.
  const pos = t.raw(`${T}embeddings.position_embeddings.weight`);
  const type0 = t.raw(`${T}embeddings.token_type_embeddings.weight`);
  const posType = new Float32Array(L * W);
  for (let i = 0; i < L * W; i++) posType[i] = pos[i] + type0[i % W];
  const words = g.op("Gather", [t.weight(`${T}embeddings.word_embeddings.weight`), ids], {
    axis: 0,
  });
  const seq = g.op("Shape", [ids], { start: 1, end: 2 });
  const posRows = g.op("Slice", [
    g.constant("embeddings.position_plus_type0", posType, [L, W]),
    t.ints([0]),
    seq,
    t.ints([0]),
  ]); // rows 0..sequence-1
  const emb = g.op("Add", [words, posRows]);
  let h = t.layerNorm(emb, `${T}embeddings.LayerNorm`, c.lnEps);
  const keep = g.op("Cast", [mask], { to: 1 });
  const additive = g.op("Mul", [g.op("Sub", [t.scalar(1), keep]), t.scalar(FLOAT32_MIN)]);
  const maskAdd = g.op("Unsqueeze", [additive, t.ints([1, 2])]); // [B, 1, 1, L]
  for (let i = 0; i < c.layers; i++) {
    const l = `${T}encoder.layer.${i}.`;
    const qkvT = new Float32Array(W * 3 * W), qkvB = new Float32Array(3 * W);
    ["query", "key", "value"].forEach((p, k) => {
      const wT = transpose(t.raw(`${l}attention.self.${p}.weight`), W, W);
      for (let r = 0; r < W; r++) qkvT.set(wT.subarray(r * W, (r + 1) * W), r * 3 * W + k * W);
      qkvB.set(t.raw(`${l}attention.self.${p}.bias`), k * W);
    });
    const a = t.attention(
      h,
      g.constant(`${l}attention.self.qkv.T`, qkvT, [W, 3 * W]),
      g.constant(`${l}attention.self.qkv.bias`, qkvB, [3 * W]),
      {
        wT: t.weightT(`${l}attention.output.dense.weight`),
        b: t.weight(`${l}attention.output.dense.bias`),
      },
      W,
      c.heads,
      maskAdd,
    );
    h = t.layerNorm(g.op("Add", [a, h]), `${l}attention.output.LayerNorm`, c.lnEps);
    const f1 = t.linear(
      h,
      t.weightT(`${l}intermediate.dense.weight`),
      t.weight(`${l}intermediate.dense.bias`),
    );
    const f2 = t.linear(
      t.gelu(f1),
      t.weightT(`${l}output.dense.weight`),
      t.weight(`${l}output.dense.bias`),
    );
    h = t.layerNorm(g.op("Add", [f2, h]), `${l}output.LayerNorm`, c.lnEps);
  }
  const hidden = t.gelu(t.linear(t.cls(h), t.weightT("text.proj.0.weight")));
  const out = t.linear(hidden, t.weightT("text.proj.2.weight"));
  g.output(out, TEXT_IO.output, "float32", ["batch", config.embedDim]);
  return g.toModel({
    opset: OPSET,
    producer: "cxr-retrieval",
    doc: "BiomedCLIP text tower (BERT, CLS pooling, MLP head)",
    props: modelProps(config, "text"),
  });
}
