/**
 * Projection into the shared retrieval space (L2-normalized), on the GPU: {@link projectRows}
 * runs rows already on the GPU through one head, in chunks; a {@link Projector} holds trained
 * heads and their input standardization (from a checkpoint), projects embeddings from the host
 * and screens them with the trained normal/abnormal classifier.
 *
 * @module
 */

import { getGpu, type GpuContext } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import type { HeadConfig } from "./config.ts";
import { allocateHeadActivations, headForward, type Tower } from "./head_graph.ts";
import { linearForward } from "../ops/linear.ts";
import { type InputNorm, standardize } from "./input_norm.ts";
import { ParameterLayout } from "./parameters.ts";

/** Rows projected per submit (a multiple of 64 keeps every binding offset 256-byte aligned). */
export const EVAL_CHUNK = 1024;

/** Trained heads on the GPU. */
export interface GpuHeads {
  /** Head configuration. */
  head: HeadConfig;
  /** Parameter layout. */
  layout: ParameterLayout;
  /** Flat parameters. */
  params: GpuView;
}

/**
 * Projects `count` rows of `x` [count, inDim] through one head (no dropout) into a new buffer of
 * L2-normalized embeddings [count, outDim].
 * @example
 * ```ts
 * import { initialParameters } from "./init.ts";
 * import { ParameterLayout } from "./parameters.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0.1 };
 *   const layout = new ParameterLayout(head);
 *   const heads = { head, layout, params: gpu.storage(initialParameters(layout, 42)) };
 *   const x = gpu.storage(new Float32Array(3 * 8).fill(1)); // 3 image embeddings
 *   const z = await projectRows(gpu, heads, "image", x, 3);
 *   await gpu.read(z); // 3 unit rows of 4
 * }
 * ```
 */
export async function projectRows(
  gpu: GpuContext,
  heads: GpuHeads,
  tower: Tower,
  x: GpuView,
  count: number,
): Promise<GpuView> {
  const { head, layout, params } = heads;
  const out = gpu.storage(count * head.outDim, `${tower} projections`);
  const chunk = Math.min(EVAL_CHUNK, count);
  const acts = allocateHeadActivations(gpu, { ...head, dropout: 0 }, chunk);
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const xs = {
      buffer: x.buffer,
      offset: x.offset + start * head.inDim * 4,
      length: rows * head.inDim,
    };
    const n = rows * head.outDim;
    await gpu.runOnce(() => [
      ...headForward(gpu, layout, params, tower, head, xs, { ...acts, rows }, null),
      {
        copy: {
          src: { ...acts.z, length: n },
          dst: { ...out, offset: out.offset + start * head.outDim * 4, length: n },
        },
      },
    ]);
  }
  gpu.throwIfFailed("projection");
  return out;
}

/**
 * Trained image and text heads.
 * @example
 * ```ts
 * import { initialParameters } from "./init.ts";
 * import { ParameterLayout } from "./parameters.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   // An untrained projector; `await Projector.load(checkpointPath)` gives a trained one.
 *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
 *   const params = initialParameters(new ParameterLayout(head), 42);
 *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
 *   const z = await projector.project("image", new Float32Array([1, 2, 3, 4, 4, 3, 2, 1]), 2);
 *   // z: 2 unit rows of 4 in the shared retrieval space
 * }
 * ```
 */
export class Projector {
  /** Head configuration. */
  readonly head: HeadConfig;
  /** Parameter layout. */
  readonly layout: ParameterLayout;
  /** Flat parameters on the GPU. */
  readonly params: GpuView;
  /** The GPU. */
  readonly gpu: GpuContext;
  /** Standardization applied to embeddings before the heads. */
  readonly inputNorm: InputNorm;

  /**
   * @param gpu the context the parameters live on
   * @param head head configuration
   * @param params flat parameters (our layout)
   * @param inputNorm the standardization the heads were trained with
   */
  constructor(
    gpu: GpuContext,
    head: HeadConfig,
    params: Float32Array<ArrayBuffer>,
    inputNorm: InputNorm,
  ) {
    this.gpu = gpu;
    this.head = head;
    this.inputNorm = inputNorm;
    this.layout = new ParameterLayout(head);
    if (params.length !== this.layout.length) {
      throw new Error(
        `projector: ${params.length} parameters, the head needs ${this.layout.length}`,
      );
    }
    this.params = gpu.storage(params, "projector params");
  }

  /** Loads a checkpoint written by the trainer. */
  static async load(path: string, gpu?: GpuContext): Promise<Projector> {
    const c = await loadCheckpoint(path);
    return new Projector(gpu ?? await getGpu(), c.head, c.params, c.inputNorm);
  }

  /** The logit scale view (for scoring). */
  get logitScale(): GpuView {
    return this.layout.view(this.params, "logit_scale");
  }

  /**
   * Projects `count` embeddings [count, inDim] of one modality; returns a GPU buffer of
   * normalized projections [count, outDim].
   */
  async projectToGpu(
    tower: Tower,
    embeddings: Float32Array<ArrayBuffer>,
    count: number,
  ): Promise<GpuView> {
    if (!Number.isInteger(count) || count < 1 || embeddings.length !== count * this.head.inDim) {
      throw new Error(
        `projector: ${tower} embeddings must be [count >= 1, ${this.head.inDim}] with count ${count}, got ${embeddings.length} values`,
      );
    }
    const x = this.gpu.storage(
      standardize(embeddings, this.inputNorm[tower]),
      `${tower} embeddings`,
    );
    const z = await projectRows(this.gpu, this, tower, x, count);
    x.buffer.destroy();
    return z;
  }

  /**
   * Probability of abnormal for each of `count` embeddings [count, inDim] of one modality, from
   * the classifier the BCE loss trained: `sigmoid(z·w + b)` on the head's normalized projection
   * z, exactly the logits of training (one classifier shared by both modalities). The N logits
   * come from the GPU; the sigmoid runs on the host in float64.
   * @example
   * ```ts
   * import { initialParameters } from "./init.ts";
   * import { ParameterLayout } from "./parameters.ts";
   * import { tryGetGpu } from "../gpu/context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   // An untrained projector; `await Projector.load(checkpointPath)` gives a trained one.
   *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
   *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
   *   const params = initialParameters(new ParameterLayout(head), 42);
   *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
   *   const p = await projector.classify("text", new Float32Array([1, 2, 3, 4, 4, 3, 2, 1]));
   *   // p: 2 probabilities of abnormal, in (0, 1)
   * }
   * ```
   */
  async classify(
    tower: Tower,
    embeddings: Float32Array<ArrayBuffer>,
    count: number = embeddings.length / this.head.inDim,
  ): Promise<Float32Array<ArrayBuffer>> {
    return (await this.#classify(tower, embeddings, count, false)).abnormal;
  }

  /**
   * {@link Projector.classify} and {@link Projector.project} of the same embeddings, read back
   * together: what a search needs of its query.
   * @example
   * ```ts
   * import { initialParameters } from "./init.ts";
   * import { ParameterLayout } from "./parameters.ts";
   * import { tryGetGpu } from "../gpu/context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
   *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
   *   const params = initialParameters(new ParameterLayout(head), 42);
   *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
   *   const { abnormal, projections } = await projector.projectAndClassify(
   *     "image",
   *     new Float32Array([1, 2, 3, 4]),
   *     1,
   *   ); // abnormal: [p]; projections: one unit row of 4
   * }
   * ```
   */
  async projectAndClassify(
    tower: Tower,
    embeddings: Float32Array<ArrayBuffer>,
    count: number,
  ): Promise<{ abnormal: Float32Array<ArrayBuffer>; projections: Float32Array<ArrayBuffer> }> {
    const { abnormal, projections } = await this.#classify(tower, embeddings, count, true);
    return { abnormal, projections: projections! };
  }

  /** The classifier's probabilities, and the projections when `readProjections`. */
  async #classify(
    tower: Tower,
    embeddings: Float32Array<ArrayBuffer>,
    count: number,
    readProjections: boolean,
  ) {
    const z = await this.projectToGpu(tower, embeddings, count);
    const logits = this.gpu.storage(count, `${tower} classifier logits`);
    const weight = this.layout.view(this.params, "classifier.weight");
    const bias = this.layout.view(this.params, "classifier.bias");
    const shape = { rows: count, inDim: this.head.outDim, outDim: 1 };
    try {
      await this.gpu.runOnce(() => linearForward(this.gpu, z, weight, bias, logits, shape));
      this.gpu.throwIfFailed("classifier");
      const [l, p] = await this.gpu.readMany(readProjections ? [logits, z] : [logits]);
      return { abnormal: Float32Array.from(l, sigmoid), projections: p ?? null };
    } finally {
      z.buffer.destroy();
      logits.buffer.destroy();
    }
  }

  /** Projects and reads back: normalized projections [count, outDim]. */
  async project(
    tower: Tower,
    embeddings: Float32Array<ArrayBuffer>,
    count: number,
  ): Promise<Float32Array> {
    const z = await this.projectToGpu(tower, embeddings, count);
    const out = await this.gpu.read(z);
    z.buffer.destroy();
    return out;
  }
}

/** The logistic function, stable for large |x|. */
function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
