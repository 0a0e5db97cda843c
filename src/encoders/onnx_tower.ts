/**
 * The ONNX building blocks the towers are made of (linear layers, LayerNorm, GELU and QuickGELU,
 * multi-head self-attention over a fused qkv projection), reading shape-checked weights from a
 * state dict. Linear weights are stored transposed ([in, out]) for MatMul.
 *
 * @module
 */

import { GraphBuilder } from "./onnx_graph.ts";
import { openClipWeight } from "./open_clip_weights.ts";
import type { StateDict } from "./state_dict.ts";

/**
 * The lowest float32, used as the additive mask value: masked scores get exactly zero weight
 * after softmax, and a row never becomes all -Infinity (which would give NaN).
 * @example
 * ```ts
 * FLOAT32_MIN === -Math.fround(3.4028234663852886e38); // true
 * ```
 */
export const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * [rows, cols] row-major → [cols, rows].
 * @example
 * ```ts
 * transpose(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 3); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  }
  return out;
}

/**
 * Graph-building helpers shared by every tower: weights come from a state dict and are
 * shape-checked against `shapes` (key → expected shape) as they are read.
 * @example
 * ```ts
 * import { TINY_CONFIG } from "./biomedclip_config.ts";
 * import { openClipShapes, randomOpenClipStateDict } from "./open_clip_weights.ts";
 * const t = new Tower("example", randomOpenClipStateDict(TINY_CONFIG, 0), openClipShapes(TINY_CONFIG));
 * const x = t.g.input("x", "float32", ["batch", 32]);
 * const y = t.layerNorm(x, "visual.trunk.norm", 1e-6);
 * t.g.output(y, "y", "float32", ["batch", 32]);
 * const onnx = t.g.toModel({ opset: 17, producer: "example" });
 * ```
 */
export class Tower {
  readonly g: GraphBuilder;
  readonly #sd: StateDict;
  readonly #shapes: Map<string, number[]>;
  readonly #consts = new Map<string, string>();

  /**
   * @param name the graph's name
   * @param sd the weights
   * @param shapes every key the tower may read, with its expected shape
   */
  constructor(name: string, sd: StateDict, shapes: Map<string, number[]>) {
    this.g = new GraphBuilder(name);
    this.#sd = sd;
    this.#shapes = shapes;
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

  /** LayerNorm over the last axis with `${prefix}.weight` and `${prefix}.bias`. */
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

  /** QuickGELU (OpenAI CLIP's activation): x·sigmoid(1.702·x). */
  quickGelu(x: string): string {
    const g = this.g;
    return g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, this.scalar(1.702)])])]);
  }

  /**
   * Multi-head self-attention over x [B, T, W] with fused qkv [W, 3W] (+ bias [3W]); `mask` is
   * an additive tensor broadcast to [B, h, T, T] ([B, 1, 1, T] padding, [T, T] causal) or undefined. Returns the output projection [B, T, W].
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

  /**
   * A ViT's token sequence: the patch embeddings `patches` [B, W, h, w] (a Conv of the input
   * `x`) as [B, h·w, W], after the class token (initializer `classKey`, shaped `dims`) expanded
   * to the batch: [B, 1 + h·w, W].
   */
  withClassToken(
    x: string,
    patches: string,
    classKey: string,
    width: number,
    dims?: number[],
  ): string {
    const g = this.g;
    const seq = g.op("Transpose", [g.op("Reshape", [patches, this.ints([0, width, -1])])], {
      perm: [0, 2, 1],
    });
    const batch = g.op("Shape", [x], { start: 0, end: 1 });
    const clsShape = g.op("Concat", [batch, this.ints([1, width])], { axis: 0 });
    const cls = g.op("Expand", [this.weight(classKey, dims), clsShape]);
    return g.op("Concat", [cls, seq], { axis: 1 });
  }

  /** Row 0 along axis 1: [B, T, W] → [B, W]. */
  cls(x: string): string {
    return this.g.op("Gather", [x, this.ints([0], [])], { axis: 1 });
  }
}
