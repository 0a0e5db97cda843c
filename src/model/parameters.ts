/**
 * All learnable parameters in one flat float32 buffer with named views, laid out so the
 * optimizer is one dispatch: weight matrices (decayed) first, then biases and the logit scale
 * (not decayed, as in open_clip), each view aligned to 64 floats (256 bytes, WebGPU's storage
 * binding alignment). Gradients and AdamW moments use the same layout.
 *
 * Our weight matrices are stored [in, out] (Y = X·W + b); checkpoints use PyTorch's names and
 * its [out, in] layout.
 *
 * @module
 */

import type { GpuView } from "../gpu/kernel.ts";
import { type HeadConfig, layerWidths } from "./config.ts";

/** Alignment of every view in floats (256 bytes). */
export const ALIGN = 64;

/** One named parameter. */
export interface ParamEntry {
  /** PyTorch-style name, e.g. `image_head.3.weight`. */
  name: string;
  /** Shape in our layout ([in, out] for weights). */
  shape: number[];
  /** Shape in PyTorch's layout ([out, in] for weights; [] for the logit scale). */
  torchShape: number[];
  /** Whether decoupled weight decay applies. */
  decay: boolean;
  /** Offset in floats in the flat buffer. */
  offset: number;
  /** Number of floats. */
  length: number;
}

/**
 * Round `n` up to a multiple of {@link ALIGN}.
 * @example
 * ```ts
 * alignUp(65); // 128
 * ```
 */
export function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * The named layout of the flat parameter buffer for a head configuration.
 * @example
 * ```ts
 * const layout = new ParameterLayout({ inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0 });
 * layout.get("classifier.weight").shape; // [4, 1]
 * ```
 */
export class ParameterLayout {
  /** Entries in buffer order. */
  readonly entries: ParamEntry[] = [];
  /** Total floats (padded). */
  readonly length: number;
  /** Floats [0, decayEnd) get weight decay. */
  readonly decayEnd: number;

  /** @param head the projector configuration */
  constructor(head: HeadConfig) {
    const widths = layerWidths(head);
    const weights: Omit<ParamEntry, "offset" | "length">[] = [];
    const others: Omit<ParamEntry, "offset" | "length">[] = [];
    for (const tower of ["image", "text"]) {
      for (let l = 0; l < head.layers; l++) {
        const [i, o] = [widths[l], widths[l + 1]];
        // nn.Sequential(Linear, GELU, Dropout, Linear, …): linear l sits at index 3·l.
        const prefix = `${tower}_head.${3 * l}`;
        weights.push({ name: `${prefix}.weight`, shape: [i, o], torchShape: [o, i], decay: true });
        others.push({ name: `${prefix}.bias`, shape: [o], torchShape: [o], decay: false });
      }
    }
    weights.push({
      name: "classifier.weight",
      shape: [head.outDim, 1],
      torchShape: [1, head.outDim],
      decay: true,
    });
    others.push({ name: "classifier.bias", shape: [1], torchShape: [1], decay: false });
    others.push({ name: "logit_scale", shape: [1], torchShape: [], decay: false });
    let offset = 0;
    for (const e of weights) offset = this.#add(e, offset);
    this.decayEnd = offset;
    for (const e of others) offset = this.#add(e, offset);
    this.length = offset;
  }

  #add(e: Omit<ParamEntry, "offset" | "length">, offset: number): number {
    const length = e.shape.reduce((a, b) => a * b, 1);
    this.entries.push({ ...e, offset, length });
    return offset + alignUp(length);
  }

  /** The entry called `name`. */
  get(name: string): ParamEntry {
    const e = this.entries.find((x) => x.name === name);
    if (!e) throw new Error(`no parameter "${name}"`);
    return e;
  }

  /** A view of parameter `name` inside `flat` (a params, grads or moments buffer). */
  view(flat: GpuView, name: string): GpuView {
    const e = this.get(name);
    return { buffer: flat.buffer, offset: flat.offset + e.offset * 4, length: e.length };
  }

  /**
   * The flat buffer from parameters in PyTorch's names and layout; `get` returns a named tensor's
   * values (row-major, PyTorch layout) or throws naming what is wrong.
   */
  fromTorch(get: (entry: ParamEntry) => Float32Array): Float32Array<ArrayBuffer> {
    const flat = new Float32Array(this.length);
    for (const e of this.entries) {
      const values = get(e);
      if (values.length !== e.length) {
        throw new Error(`parameter "${e.name}" has ${values.length} values, expected ${e.length}`);
      }
      flat.set(e.shape.length === 2 ? transpose(values, e.shape[1], e.shape[0]) : values, e.offset);
    }
    return flat;
  }

  /** Each parameter of a flat buffer in PyTorch's name and layout. */
  toTorch(flat: Float32Array): Map<ParamEntry, Float32Array<ArrayBuffer>> {
    const out = new Map<ParamEntry, Float32Array<ArrayBuffer>>();
    for (const e of this.entries) {
      const values = flat.slice(e.offset, e.offset + e.length);
      out.set(e, e.shape.length === 2 ? transpose(values, e.shape[0], e.shape[1]) : values);
    }
    return out;
  }

  /** Number of learnable scalars (without padding). */
  get count(): number {
    return this.entries.reduce((a, e) => a + e.length, 0);
  }
}

/**
 * Transpose of a row-major [rows, cols] matrix; converts weights between our [in, out] layout
 * and PyTorch's [out, in].
 * @example
 * ```ts
 * transpose(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 3); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transpose(
  values: Float32Array,
  rows: number,
  cols: number,
): Float32Array<ArrayBuffer> {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  }
  return out;
}
