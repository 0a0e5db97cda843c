/**
 * Dispatches of one projector head (image or text): forward `linear → GELU → dropout → … →
 * linear → L2 normalize` and the matching backward, over activation buffers sized for a fixed
 * number of rows.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import { geluBackward, geluForward } from "../ops/gelu.ts";
import { l2normBackward, l2normForward } from "../ops/l2norm.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import { type HeadConfig, layerWidths } from "./config.ts";
import type { ParameterLayout } from "./parameters.ts";

/** Which head. */
export type Tower = "image" | "text";

/** PyTorch's F.normalize epsilon. */
export const NORM_EPS = 1e-12;

/** Activations of one head for `rows` rows (forward values; gradients live in {@link HeadGrads}). */
export interface HeadActivations {
  /** Rows the buffers hold. */
  rows: number;
  /** Pre-activation output of each linear layer; the last one is the projection. */
  pre: GpuView[];
  /** GELU output of each hidden layer. */
  act: GpuView[];
  /** Dropout output of each hidden layer (same as `act` when dropout is 0). */
  drop: GpuView[];
  /** L2-normalized projection [rows, outDim]. */
  z: GpuView;
  /** Row norms of the projection. */
  norm: GpuView;
}

/** Gradients of a head's activations (cleared before each backward). */
export interface HeadGrads {
  /** d loss / d pre-activation of each linear layer. */
  pre: GpuView[];
  /** d loss / d GELU output of each hidden layer. */
  act: GpuView[];
  /** d loss / d dropout output of each hidden layer (same as `act` when dropout is 0). */
  drop: GpuView[];
  /** d loss / d z. */
  z: GpuView;
}

/**
 * Allocates a head's activation buffers for `rows` rows.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 *   const acts = allocateHeadActivations(gpu, head, 16); // for batches of 16 rows
 *   acts.z.length; // 16 * 4
 * }
 * ```
 */
export function allocateHeadActivations(
  gpu: GpuContext,
  head: HeadConfig,
  rows: number,
): HeadActivations {
  const widths = layerWidths(head);
  const pre = widths.slice(1).map((w) => gpu.storage(rows * w, "head pre-activation"));
  const act = widths.slice(1, -1).map((w) => gpu.storage(rows * w, "head GELU"));
  const drop = head.dropout > 0
    ? widths.slice(1, -1).map((w) => gpu.storage(rows * w, "head dropout"))
    : act;
  return {
    rows,
    pre,
    act,
    drop,
    z: gpu.storage(rows * head.outDim, "head z"),
    norm: gpu.storage(rows, "head norm"),
  };
}

/**
 * Allocates a head's activation gradients for `rows` rows, each in its own buffer: WebGPU forbids
 * one dispatch to bind a buffer both read-only and writable, even at disjoint ranges.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 *   const grads = allocateHeadGrads(gpu, head, 16);
 *   grads.pre.map((v) => v.length); // [16 * 8, 16 * 4]
 * }
 * ```
 */
export function allocateHeadGrads(gpu: GpuContext, head: HeadConfig, rows: number): HeadGrads {
  const widths = layerWidths(head);
  const pre = widths.slice(1).map((w) => gpu.storage(rows * w, "d pre-activation"));
  const act = widths.slice(1, -1).map((w) => gpu.storage(rows * w, "d GELU"));
  const drop = head.dropout > 0
    ? widths.slice(1, -1).map((w) => gpu.storage(rows * w, "d dropout"))
    : act;
  return { pre, act, drop, z: gpu.storage(rows * head.outDim, "d z") };
}

/**
 * Every distinct buffer of a head's gradients (to clear before each backward).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 *   const grads = allocateHeadGrads(gpu, head, 16);
 *   await gpu.run(headGradBuffers(grads).map((v) => ({ clear: v }))); // before each backward
 * }
 * ```
 */
export function headGradBuffers(grads: HeadGrads): GpuView[] {
  return [...new Set([...grads.pre, ...grads.act, ...grads.drop, grads.z])];
}

/**
 * Makes the dropout commands of hidden layer `layer`: forward `to = dropout(from)`, or backward
 * `to += dropout'(from)`. The training graph puts per-step placeholders here (dropout masks
 * change every step); evaluation passes null (no dropout).
 */
export type DropoutHook<C> = (
  dir: "forward" | "backward",
  layer: number,
  from: GpuView,
  to: GpuView,
  length: number,
) => readonly C[];

/**
 * Forward commands of one head: `x` [rows, inDim] → `acts.z` (normalized) and `acts.pre`.
 * @example
 * ```ts
 * import { initialParameters } from "./init.ts";
 * import { ParameterLayout } from "./parameters.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 *   const layout = new ParameterLayout(head);
 *   const params = gpu.storage(initialParameters(layout, 42));
 *   const x = gpu.storage(new Float32Array(2 * 8).fill(1)); // 2 frozen image embeddings
 *   const acts = allocateHeadActivations(gpu, head, 2);
 *   await gpu.runOnce(() => headForward(gpu, layout, params, "image", head, x, acts, null));
 *   await gpu.read(acts.z); // 2 unit rows of 4
 * }
 * ```
 */
export function headForward<C = never>(
  gpu: GpuContext,
  layout: ParameterLayout,
  params: GpuView,
  tower: Tower,
  head: HeadConfig,
  x: GpuView,
  acts: HeadActivations,
  dropout: DropoutHook<C> | null,
): (Command | C)[] {
  const widths = layerWidths(head);
  const rows = acts.rows;
  const out: (Command | C)[] = [];
  let input = x;
  for (let l = 0; l < head.layers; l++) {
    const shape = { rows, inDim: widths[l], outDim: widths[l + 1] };
    const w = layout.view(params, `${tower}_head.${3 * l}.weight`);
    const b = layout.view(params, `${tower}_head.${3 * l}.bias`);
    out.push(...linearForward(gpu, input, w, b, acts.pre[l], shape));
    if (l === head.layers - 1) break;
    const length = rows * widths[l + 1];
    out.push(...geluForward(gpu, acts.pre[l], acts.act[l], { length }));
    input = acts.act[l];
    if (head.dropout > 0 && dropout) {
      out.push(...dropout("forward", l, acts.act[l], acts.drop[l], length));
      input = acts.drop[l];
    }
  }
  const shape = { rows, dim: head.outDim, eps: NORM_EPS };
  out.push(...l2normForward(gpu, acts.pre[head.layers - 1], acts.z, acts.norm, shape));
  return out;
}

/**
 * Backward commands of one head from `grads.z` (filled by the losses) to the parameter
 * gradients in `gradsFlat`; the frozen input gets no gradient.
 * @example
 * ```ts
 * import { type Command, tryGetGpu } from "../gpu/context.ts";
 * import { dropoutBackward, dropoutForward } from "../ops/dropout.ts";
 * import { initialParameters } from "./init.ts";
 * import { ParameterLayout } from "./parameters.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0.1 };
 *   const layout = new ParameterLayout(head);
 *   const params = gpu.storage(initialParameters(layout, 42));
 *   const gradsFlat = gpu.storage(layout.length); // parameter gradients, same layout
 *   const x = gpu.storage(new Float32Array(2 * 8).fill(1));
 *   const acts = allocateHeadActivations(gpu, head, 2), grads = allocateHeadGrads(gpu, head, 2);
 *   const opts = (length: number) => ({ length, p: head.dropout, seed: 1 }); // one mask both ways
 *   const hook: DropoutHook<Command> = (dir, _layer, from, to, length) =>
 *     dir === "forward"
 *       ? dropoutForward(gpu, from, to, opts(length))
 *       : dropoutBackward(gpu, from, to, opts(length));
 *   gpu.write(grads.z, new Float32Array(2 * 4).fill(1)); // d loss / d z, as the losses leave it
 *   await gpu.runOnce(() => [
 *     ...headForward(gpu, layout, params, "image", head, x, acts, hook),
 *     ...headBackward(gpu, layout, params, gradsFlat, "image", head, x, acts, grads, hook),
 *   ]);
 *   await gpu.read(layout.view(gradsFlat, "image_head.0.weight")); // d loss / d first weight
 * }
 * ```
 */
export function headBackward<C>(
  gpu: GpuContext,
  layout: ParameterLayout,
  params: GpuView,
  gradsFlat: GpuView,
  tower: Tower,
  head: HeadConfig,
  x: GpuView,
  acts: HeadActivations,
  grads: HeadGrads,
  dropout: DropoutHook<C>,
): (Command | C)[] {
  const widths = layerWidths(head);
  const rows = acts.rows;
  const L = head.layers;
  const out: (Command | C)[] = l2normBackward(gpu, acts.z, acts.norm, grads.z, grads.pre[L - 1], {
    rows,
    dim: head.outDim,
    eps: NORM_EPS,
  });
  const dropping = head.dropout > 0;
  for (let l = L - 1; l >= 0; l--) {
    const name = `${tower}_head.${3 * l}`;
    const input = l === 0 ? x : dropping ? acts.drop[l - 1] : acts.act[l - 1];
    const dInput = l === 0 ? null : grads.drop[l - 1];
    out.push(
      ...linearBackward(
        gpu,
        input,
        layout.view(params, `${name}.weight`),
        grads.pre[l],
        dInput,
        layout.view(gradsFlat, `${name}.weight`),
        layout.view(gradsFlat, `${name}.bias`),
        { rows, inDim: widths[l], outDim: widths[l + 1] },
      ),
    );
    if (l === 0) break;
    const length = rows * widths[l];
    if (dropping) {
      out.push(...dropout("backward", l - 1, grads.drop[l - 1], grads.act[l - 1], length));
    }
    out.push(...geluBackward(gpu, acts.pre[l - 1], grads.act[l - 1], grads.pre[l - 1], { length }));
  }
  return out;
}
