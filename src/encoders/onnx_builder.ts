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
import { GraphBuilder } from "./onnx_graph.ts";
import { openClipShapes, openClipWeight } from "./open_clip_weights.ts";
import type { StateDict } from "./state_dict.ts";

/**
 * ONNX opset of the default domain used by both towers.
 * @example
 * ```ts
 * console.log(OPSET); // 17
 * ```
 */
export const OPSET = 17;

const FLOAT32_MIN = -3.4028234663852886e38;

/** [rows, cols] row-major → [cols, rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  }
  return out;
}

/** Graph-building helpers shared by both towers; weights come from the open_clip state dict. */
class Tower {
  readonly g: GraphBuilder;
  readonly #sd: StateDict;
  readonly #shapes: Map<string, number[]>;
  readonly #consts = new Map<string, string>();

  constructor(name: string, sd: StateDict, config: BiomedClipConfig) {
    this.g = new GraphBuilder(name);
    this.#sd = sd;
    this.#shapes = openClipShapes(config);
  }

  /** The weight's float32 values, shape-checked. */
  raw(key: string): Float32Array {
    return openClipWeight(this.#sd, this.#shapes, key);
  }

  /** The weight as an initializer named after its key, with its open_clip shape. */
  weight(key: string, dims = this.#shapes.get(key)!): string {
    return this.g.constant(key, this.raw(key), dims);
  }

  /** A Linear weight [out, in] stored transposed as [in, out] for MatMul. */
  weightT(key: string): string {
    const [out, inp] = this.#shapes.get(key)!;
    return this.g.constant(`${key}.T`, transpose(this.raw(key), out, inp), [inp, out]);
  }

  /** A float scalar constant, one initializer per value. */
  scalar(v: number): string {
    const key = `const_f${v}`;
    if (!this.#consts.has(key)) {
      this.#consts.set(key, this.g.constant(key, new Float32Array([v]), []));
    }
    return this.#consts.get(key)!;
  }

  /** An int64 constant, one initializer per distinct value list. */
  ints(values: number[], dims?: number[]): string {
    const key = `const_i[${values}]${dims ? `(${dims})` : ""}`;
    if (!this.#consts.has(key)) this.#consts.set(key, this.g.ints(key, values, dims));
    return this.#consts.get(key)!;
  }

  /** x·Wᵀ (+ b), with `wT` an [in, out] initializer. */
  linear(x: string, wT: string, b?: string): string {
    const y = this.g.op("MatMul", [x, wT]);
    return b ? this.g.op("Add", [y, b]) : y;
  }

  layerNorm(x: string, prefix: string, eps: number): string {
    return this.g.op("LayerNormalization", [
      x,
      this.weight(`${prefix}.weight`),
      this.weight(`${prefix}.bias`),
    ], { axis: -1, epsilon: { float: eps } });
  }

  /** Exact GELU: 0.5·x·(1 + erf(x/√2)), in the form onnxruntime fuses into one Gelu op. */
  gelu(x: string): string {
    const g = this.g;
    const e = g.op("Erf", [g.op("Div", [x, this.scalar(Math.SQRT2)])]);
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [e, this.scalar(1)])]), this.scalar(0.5)]);
  }

  /**
   * Multi-head self-attention over x [B, T, W] with fused qkv [W, 3W] (+ bias [3W]); `mask` is
   * an additive [B, 1, 1, T] tensor or undefined. Returns the output projection [B, T, W].
   */
  attention(
    x: string,
    qkvT: string,
    qkvB: string,
    proj: { wT: string; b: string },
    width: number,
    heads: number,
    mask?: string,
  ): string {
    const g = this.g, hd = width / heads;
    const qkv = g.op("Reshape", [this.linear(x, qkvT, qkvB), this.ints([0, 0, 3, heads, hd])]);
    const split = g.op("Transpose", [qkv], { perm: [2, 0, 3, 1, 4] }); // [3, B, h, T, hd]
    const [q, k, v] = [0, 1, 2].map((i) =>
      g.op("Gather", [split, this.ints([i], [])], { axis: 0 })
    );
    const kT = g.op("Transpose", [k], { perm: [0, 1, 3, 2] });
    let scores = g.op("Mul", [g.op("MatMul", [q, kT]), this.scalar(1 / Math.sqrt(hd))]);
    if (mask) scores = g.op("Add", [scores, mask]);
    const ctx = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), v]); // [B, h, T, hd]
    const merged = g.op("Reshape", [
      g.op("Transpose", [ctx], { perm: [0, 2, 1, 3] }),
      this.ints([0, 0, width]),
    ]);
    return this.linear(merged, proj.wT, proj.b);
  }

  /** Row 0 along axis 1: [B, T, W] → [B, W]. */
  cls(x: string): string {
    return this.g.op("Gather", [x, this.ints([0], [])], { axis: 1 });
  }
}

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
  const t = new Tower("biomedclip_image", sd, config), g = t.g;
  const x = g.input(IMAGE_IO.input, "float32", ["batch", 3, c.imageSize, c.imageSize]);
  const V = "visual.trunk.";
  const patches = g.op("Conv", [
    x,
    t.weight(`${V}patch_embed.proj.weight`),
    t.weight(`${V}patch_embed.proj.bias`),
  ], { kernel_shape: [c.patchSize, c.patchSize], strides: [c.patchSize, c.patchSize] });
  const seq = g.op("Transpose", [g.op("Reshape", [patches, t.ints([0, W, -1])])], {
    perm: [0, 2, 1],
  }); // [B, N, W]
  const batch = g.op("Shape", [x], { start: 0, end: 1 });
  const clsShape = g.op("Concat", [batch, t.ints([1, W])], { axis: 0 });
  const cls = g.op("Expand", [t.weight(`${V}cls_token`), clsShape]);
  let h = g.op("Add", [g.op("Concat", [cls, seq], { axis: 1 }), t.weight(`${V}pos_embed`)]);
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
  const t = new Tower("biomedclip_text", sd, config), g = t.g;
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
