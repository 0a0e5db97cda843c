/**
 * Builds OpenAI CLIP's two towers (open_clip `ViT-B-16` with OpenAI weights, or any size given
 * by a {@link ClipConfig}) as ONNX models (opset 17, dynamic batch) from a CLIP state dict:
 *
 * - image: `pixel_values` [batch, 3, S, S] float32 → conv patch embedding without bias, class
 *   embedding, position embedding, `ln_pre`, pre-LN residual blocks (LN → MHSA → residual,
 *   LN → MLP with QuickGELU → residual), `ln_post` on the class token, `x · proj` (no bias) →
 *   `image_embeds` [batch, E].
 * - text: `input_ids`, `attention_mask` [batch, sequence] int64, sequence <= the context length
 *   → token + position embeddings, pre-LN blocks with a causal mask, `ln_final`, the features
 *   at the end-of-text token (the row's largest id: argmax, the first one on ties, as
 *   `torch.argmax`), `x · text_projection` → `text_embeds` [batch, E]. Under the causal mask no
 *   token attends to a later one, so whatever follows the end token cannot change its features:
 *   the encoders can cut each batch after its longest text, and `attention_mask` (kept so both
 *   model families share one signature) is what they cut by; the graph itself does not read it.
 *
 * Embeddings are not normalized. LayerNorm eps comes from the config (PyTorch's 1e-5 for CLIP).
 *
 * @module
 */

import { IMAGE_IO, TEXT_IO } from "./biomedclip_config.ts";
import type { ClipConfig } from "./clip_config.ts";
import { clipShapes } from "./clip_weights.ts";
import { OPSET } from "./onnx_builder.ts";
import { FLOAT32_MIN, Tower } from "./onnx_tower.ts";
import type { StateDict } from "./state_dict.ts";

/** One pre-LN residual block of open_clip's `ResidualAttentionBlock` with QuickGELU. */
function residualBlock(
  t: Tower,
  h: string,
  prefix: string,
  tower: { width: number; heads: number; lnEps: number },
  mask?: string,
): string {
  const g = t.g;
  const a = t.attention(
    t.layerNorm(h, `${prefix}ln_1`, tower.lnEps),
    t.weightT(`${prefix}attn.in_proj_weight`),
    t.weight(`${prefix}attn.in_proj_bias`),
    { wT: t.weightT(`${prefix}attn.out_proj.weight`), b: t.weight(`${prefix}attn.out_proj.bias`) },
    tower.width,
    tower.heads,
    mask,
  );
  h = g.op("Add", [h, a]);
  const fc = t.linear(
    t.layerNorm(h, `${prefix}ln_2`, tower.lnEps),
    t.weightT(`${prefix}mlp.c_fc.weight`),
    t.weight(`${prefix}mlp.c_fc.bias`),
  );
  const proj = t.linear(
    t.quickGelu(fc),
    t.weightT(`${prefix}mlp.c_proj.weight`),
    t.weight(`${prefix}mlp.c_proj.bias`),
  );
  return g.op("Add", [h, proj]);
}

/** Names the output `embeds` [batch, E] and serializes the tower, its config in the metadata. */
function finish(
  t: Tower,
  embeds: string,
  config: ClipConfig,
  tower: "image" | "text",
  doc: string,
): Uint8Array {
  const name = tower === "image" ? IMAGE_IO.output : TEXT_IO.output;
  t.g.output(embeds, name, "float32", ["batch", config.embedDim]);
  return t.g.toModel({
    opset: OPSET,
    producer: "cxr-retrieval",
    doc,
    props: { family: "openai-clip", tower, config: JSON.stringify(config) },
  });
}

/**
 * Builds CLIP's image tower as ONNX bytes from a CLIP state dict (keys `visual.*`).
 * @example
 * ```ts
 * import { CLIP_TINY_CONFIG } from "./clip_config.ts";
 * import { randomClipStateDict } from "./clip_weights.ts";
 * const onnx = buildClipImageTower(CLIP_TINY_CONFIG, randomClipStateDict(CLIP_TINY_CONFIG, 0));
 * ```
 */
export function buildClipImageTower(config: ClipConfig, sd: StateDict): Uint8Array {
  const c = config.vision, W = c.width;
  const t = new Tower("clip_image", sd, clipShapes(config)), g = t.g;
  const x = g.input(IMAGE_IO.input, "float32", ["batch", 3, c.imageSize, c.imageSize]);
  const patches = g.op("Conv", [x, t.weight("visual.conv1.weight")], {
    kernel_shape: [c.patchSize, c.patchSize],
    strides: [c.patchSize, c.patchSize],
  });
  const tokens = t.withClassToken(x, patches, "visual.class_embedding", W, [1, 1, W]);
  let h = g.op("Add", [tokens, t.weight("visual.positional_embedding")]);
  h = t.layerNorm(h, "visual.ln_pre", c.lnEps);
  for (let i = 0; i < c.layers; i++) {
    h = residualBlock(t, h, `visual.transformer.resblocks.${i}.`, c);
  }
  // ln_post is per token, so normalizing only the class token gives the same result.
  const pooled = t.layerNorm(t.cls(h), "visual.ln_post", c.lnEps);
  const out = g.op("MatMul", [pooled, t.weight("visual.proj")]);
  return finish(t, out, config, "image", "OpenAI CLIP image tower (ViT, QuickGELU, ln_post, proj)");
}

/**
 * Builds CLIP's text tower as ONNX bytes from a CLIP state dict (`token_embedding`,
 * `positional_embedding`, `transformer.*`, `ln_final`, `text_projection`).
 * @example
 * ```ts
 * import { CLIP_TINY_CONFIG } from "./clip_config.ts";
 * import { randomClipStateDict } from "./clip_weights.ts";
 * const onnx = buildClipTextTower(CLIP_TINY_CONFIG, randomClipStateDict(CLIP_TINY_CONFIG, 0));
 * ```
 */
export function buildClipTextTower(config: ClipConfig, sd: StateDict): Uint8Array {
  const c = config.text, L = c.contextLength;
  const t = new Tower("clip_text", sd, clipShapes(config)), g = t.g;
  const ids = g.input(TEXT_IO.ids, "int64", ["batch", "sequence"]);
  g.input(TEXT_IO.mask, "int64", ["batch", "sequence"]);
  const seq = g.op("Shape", [ids], { start: 1, end: 2 });
  const words = g.op("Gather", [t.weight("token_embedding.weight"), ids], { axis: 0 });
  const posRows = g.op("Slice", [
    t.weight("positional_embedding"),
    t.ints([0]),
    seq,
    t.ints([0]),
  ]); // rows 0..sequence-1
  let h = g.op("Add", [words, posRows]);
  // Additive causal mask: FLOAT32_MIN above the diagonal, cut to [sequence, sequence].
  const causal = new Float32Array(L * L);
  for (let r = 0; r < L; r++) causal.fill(FLOAT32_MIN, r * L + r + 1, (r + 1) * L);
  const square = g.op("Concat", [seq, seq], { axis: 0 });
  const mask = g.op("Slice", [
    g.constant("causal_mask", causal, [L, L]),
    t.ints([0, 0]),
    square,
    t.ints([0, 1]),
  ]);
  for (let i = 0; i < c.layers; i++) {
    h = residualBlock(t, h, `transformer.resblocks.${i}.`, c, mask);
  }
  h = t.layerNorm(h, "ln_final", c.lnEps);
  const eot = g.op("ArgMax", [ids], { axis: 1, keepdims: 1 }); // [B, 1]
  const pooled = g.op("GatherND", [h, eot], { batch_dims: 1 }); // [B, W]
  const out = g.op("MatMul", [pooled, t.weight("text_projection")]);
  return finish(t, out, config, "text", "OpenAI CLIP text tower (causal, end-token pooling)");
}
