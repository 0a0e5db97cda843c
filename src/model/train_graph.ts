/**
 * One training step of the method as GPU commands, built once per run, read as the algorithm:
 *
 * ```
 * forward   gather batch → image head / text head → L2 normalize → fused similarity and
 *           classifier → loss terms (CLIP, SupCon, BCE) into the step's loss slot
 * zeroGrad  parameter and activation gradients to zero
 * backward  the forward in reverse: losses → similarity, classifier → L2 norm → each head
 * update    global gradient norm → AdamW (clipping folded in, one dispatch)
 * ```
 *
 * Everything a step needs stays on the GPU; the host writes the epoch's batch index list and
 * reads the loss slots every few steps. Every dispatch is prepared once. Those with per-step
 * uniforms (batch offset, dropout seeds, learning rate and step) keep one uniform record per
 * loss slot (`GpuContext.record`): a step writes its values into its slot's records and its
 * commands select them, so the steps of one submit each have their own.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import { atRecord, type DispatchRecords, type GpuView } from "../gpu/kernel.ts";
import { type AdamWOptions, adamwUniforms, adamwUpdate } from "../ops/adamw.ts";
import { bceBackward, bceForward } from "../ops/bce.ts";
import { clipLossBackward, clipLossForward } from "../ops/clip_loss.ts";
import { dropoutBackward, dropoutForward } from "../ops/dropout.ts";
import { gatherRows } from "../ops/gather.ts";
import { gradNorm } from "../ops/grad_norm.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import { similarityBackward, similarityForward } from "../ops/similarity.ts";
import { SupconLoss } from "../ops/supcon.ts";
import type { HeadConfig, LossConfig } from "./config.ts";
import {
  allocateHeadActivations,
  allocateHeadGrads,
  type DropoutHook,
  type HeadActivations,
  headBackward,
  headForward,
  headGradBuffers,
  type HeadGrads,
  type Tower,
} from "./head_graph.ts";
import { lossIndex, lossSlotsLength } from "./loss_readback.ts";
import { ParameterLayout } from "./parameters.ts";

/** AdamW hyper-parameters other than the learning rate. */
export interface OptimizerConfig {
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** Decoupled weight decay (weights only). */
  weightDecay: number;
  /** Global gradient-norm clipping threshold; 0 disables clipping. */
  maxGradNorm: number;
}

/**
 * open_clip's AdamW defaults for ViT models (beta2 0.98, eps 1e-6, weight decay 0.2), and
 * gradient-norm clipping at 1 (open_clip leaves `--grad-clip-norm` off by default; ours is on).
 */
export const DEFAULT_OPTIMIZER: OptimizerConfig = {
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-6,
  weightDecay: 0.2,
  maxGradNorm: 1,
};

/** The frozen-embedding data a graph trains on, resident on the GPU. */
export interface GpuDataset {
  /** Image embeddings [count, inDim]. */
  image: GpuView;
  /** Report embeddings [count, inDim]. */
  text: GpuView;
  /** Labels [count] (i32). */
  label: GpuView;
}

/** Per-step inputs. */
export interface StepInputs {
  /** Index of the step inside the current epoch (selects the batch in the index list). */
  stepInEpoch: number;
  /** 1-based optimizer step (bias correction). */
  optimizerStep: number;
  /** Learning rate of this step. */
  lr: number;
  /** Seed of this step's dropout masks. */
  seed: number;
  /** Loss slot (0 ≤ slot < slots) the step's loss terms are written to. */
  slot: number;
}

/**
 * The prepared training step of the projector heads.
 * @example
 * ```ts
 * import { DEFAULT_LOSS } from "./config.ts";
 * import { Rng } from "../util/rng.ts";
 * import { initialParameters } from "./init.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const head = { inDim: 8, hidden: 8, outDim: 4, layers: 2, dropout: 0.1 };
 *     const rng = new Rng(1);
 *     const random = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
 *   const data = { // 8 frozen embedding pairs and their labels
 *     image: gpu.storage(random(8 * 8)),
 *     text: gpu.storage(random(8 * 8)),
 *     label: gpu.storage(new Int32Array([0, 1, 0, 1, 0, 1, 0, 1])),
 *   };
 *   const graph = new TrainGraph(gpu, head, DEFAULT_LOSS, DEFAULT_OPTIMIZER, 4, data, 2, 1);
 *   gpu.write(graph.params, initialParameters(graph.layout, 42));
 *   graph.setEpochIndex(Uint32Array.of(3, 1, 4, 0, 5, 2, 7, 6)); // 2 batches of 4
 *   for (const stepInEpoch of [0, 1]) {
 *     const step = { stepInEpoch, optimizerStep: stepInEpoch + 1, lr: 1e-3, seed: 7, slot: 0 };
 *     await gpu.run([
 *       ...graph.forward(step),
 *       ...graph.zeroGrad(),
 *       ...graph.backward(step),
 *       ...graph.update(step),
 *     ]); // what graph.step(step) returns
 *   }
 *   await gpu.read(graph.lossView(0, 0)); // the last step's CLIP loss
 * }
 * ```
 */
export class TrainGraph {
  /** Named layout of the flat parameter buffer. */
  readonly layout: ParameterLayout;
  /** Parameters, gradients and AdamW moments, flat. */
  readonly params: GpuView;
  /** Gradients (same layout). */
  readonly grads: GpuView;
  /** First moments. */
  readonly m: GpuView;
  /** Second moments. */
  readonly v: GpuView;
  /** Loss terms per slot: slot s term k at float `lossIndex(s, k)`. */
  readonly losses: GpuView;
  /** Global gradient norm of the last step. */
  readonly gradNormOut: GpuView;
  readonly #gpu: GpuContext;
  readonly #head: HeadConfig;
  readonly #loss: LossConfig;
  readonly #opt: OptimizerConfig;
  readonly #batch: number;
  readonly #index: GpuView;
  readonly #data: GpuDataset;
  readonly #x: Record<Tower, GpuView>;
  readonly #labels2: GpuView;
  readonly #acts: Record<Tower, HeadActivations>;
  readonly #dacts: Record<Tower, HeadGrads>;
  readonly #actGrads: GpuView[];
  readonly #z: GpuView;
  readonly #dz: GpuView;
  readonly #logits: GpuView;
  readonly #dlogits: GpuView;
  readonly #cls: GpuView;
  /** The SupCon loss, when weighted: its forward and backward share one similarity matrix. */
  readonly #supcon: SupconLoss | null;
  readonly #dcls: GpuView;
  /** Dispatches whose uniforms change every step: one record per loss slot. */
  readonly #perStep: {
    gathers: DispatchRecords[];
    masks: {
      dir: "forward" | "backward";
      tower: number;
      layer: number;
      records: DispatchRecords;
    }[];
    adamw: DispatchRecords;
  };
  readonly #forward: Command[];
  /** The loss forwards, one list per loss slot (each writes its slot's loss terms). */
  readonly #lossForward: Command[][];
  readonly #zeroGrad: Command[];
  readonly #backward: Command[];
  readonly #update: Command[];

  /**
   * @param batch pairs per step (B)
   * @param stepsPerEpoch batches in the epoch index list
   * @param slots loss slots (steps between two read-backs)
   */
  constructor(
    gpu: GpuContext,
    head: HeadConfig,
    loss: LossConfig,
    optimizer: OptimizerConfig,
    batch: number,
    data: GpuDataset,
    stepsPerEpoch: number,
    slots: number,
  ) {
    this.#gpu = gpu;
    this.#head = head;
    this.#loss = loss;
    this.#opt = optimizer;
    this.#batch = batch;
    this.#data = data;
    const layout = this.layout = new ParameterLayout(head);
    this.params = gpu.storage(layout.length, "params");
    this.grads = gpu.storage(layout.length, "grads");
    this.m = gpu.storage(layout.length, "adam m");
    this.v = gpu.storage(layout.length, "adam v");
    this.gradNormOut = gpu.storage(1, "grad norm");
    this.losses = gpu.storage(lossSlotsLength(slots), "loss slots");
    // Each batch appears twice in the index list: rows 0..B-1 select the images and texts,
    // all 2B rows select the labels of [image rows; text rows].
    this.#index = gpu.storage(stepsPerEpoch * 2 * batch, "epoch index");
    const B = batch, D = head.outDim;
    this.#x = {
      image: gpu.storage(B * head.inDim, "batch images"),
      text: gpu.storage(B * head.inDim, "batch texts"),
    };
    this.#labels2 = gpu.storage(2 * B, "batch labels x2");
    this.#acts = {
      image: allocateHeadActivations(gpu, head, B),
      text: allocateHeadActivations(gpu, head, B),
    };
    this.#dacts = {
      image: allocateHeadGrads(gpu, head, B),
      text: allocateHeadGrads(gpu, head, B),
    };
    this.#dz = gpu.storage(2 * B * D, "d z");
    this.#dlogits = gpu.storage(B * B, "d logits");
    this.#dcls = gpu.storage(2 * B, "d classifier logits");
    this.#actGrads = [
      ...headGradBuffers(this.#dacts.image),
      ...headGradBuffers(this.#dacts.text),
      this.#dz,
      this.#dlogits,
      this.#dcls,
    ];
    this.#z = gpu.storage(2 * B * D, "z = [z_image; z_text]");
    this.#logits = gpu.storage(B * B, "logits");
    this.#cls = gpu.storage(2 * B, "classifier logits");
    // One SupCon similarity per step: the loss forward computes it, the backward reuses it.
    this.#supcon = loss.wSupcon > 0
      ? new SupconLoss(gpu, this.#z, this.#labels2, {
        n: 2 * B,
        dim: D,
        temperature: loss.temperature,
      })
      : null;
    // Dispatches with per-step uniforms are prepared once with placeholder values, then
    // recorded: each step writes its values into its slot's record.
    const record = (commands: Command[]) => gpu.record(commands[0], slots);
    const gather = (src: GpuView, dst: GpuView, rows: number, dim: number) =>
      record(gatherRows(gpu, src, this.#index, dst, { rows, dim, offset: 0 }));
    this.#perStep = {
      gathers: [
        gather(data.image, this.#x.image, B, head.inDim),
        gather(data.text, this.#x.text, B, head.inDim),
        gather(data.label, this.#labels2, 2 * B, 1),
      ],
      masks: [],
      adamw: record(adamwUpdate(gpu, this.params, this.grads, this.m, this.v, this.gradNormOut, {
        ...this.#adamwOptions(),
        lr: 0,
        step: 1,
      })),
    };
    const towers: Tower[] = ["image", "text"];
    const masks = (tower: number): DropoutHook<Command> => (dir, layer, from, to, length) => {
      const opts = { length, p: head.dropout, seed: 0 };
      const records = record(
        dir === "forward"
          ? dropoutForward(gpu, from, to, opts)
          : dropoutBackward(gpu, from, to, opts),
      );
      this.#perStep.masks.push({ dir, tower, layer, records });
      return [records.at(0)];
    };
    this.#forward = [
      ...this.#perStep.gathers.map((g) => g.at(0)),
      ...towers.flatMap((t, i) =>
        headForward(gpu, layout, this.params, t, head, this.#x[t], this.#acts[t], masks(i))
      ),
      ...this.#concatZ(),
      ...this.#similarityAndClassifier(),
    ];
    this.#lossForward = Array.from({ length: slots }, (_, slot) => this.#buildLossForward(slot));
    this.#zeroGrad = [{ clear: this.grads }, ...this.#actGrads.map((v) => ({ clear: v }))];
    // The forward in reverse: losses, then each head from its output back to its first layer.
    this.#backward = [
      ...this.#buildLossBackward(),
      ...towers.flatMap((t, i) =>
        headBackward(
          gpu,
          layout,
          this.params,
          this.grads,
          t,
          head,
          this.#x[t],
          this.#acts[t],
          this.#dacts[t],
          masks(i),
        )
      ),
    ];
    this.#update = [
      ...gradNorm(gpu, this.grads, this.gradNormOut, { length: layout.length }),
      this.#perStep.adamw.at(0),
    ];
  }

  /** Writes the epoch's batch list: `order` holds stepsPerEpoch·B dataset row indices. */
  setEpochIndex(order: Uint32Array): void {
    const B = this.#batch;
    const steps = order.length / B;
    if (!Number.isInteger(steps) || 2 * order.length > this.#index.length) {
      throw new RangeError(`epoch order of ${order.length} rows does not fit batches of ${B}`);
    }
    const list = new Uint32Array(2 * order.length);
    for (let s = 0; s < steps; s++) {
      const batch = order.subarray(s * B, (s + 1) * B);
      list.set(batch, 2 * s * B);
      list.set(batch, 2 * s * B + B);
    }
    this.#gpu.write(this.#index, list);
  }

  /** View of the loss term `k` of `slot`. */
  lossView(slot: number, k: number): GpuView {
    return { buffer: this.losses.buffer, offset: lossIndex(slot, k) * 4, length: 1 };
  }

  /**
   * Forward of one step into loss slot `inputs.slot`: gather the batch, both heads (dropout with
   * the step's masks), L2 normalize, similarity and classifier, then the loss terms.
   */
  forward(inputs: StepInputs): Command[] {
    const offset = inputs.stepInEpoch * 2 * this.#batch;
    for (const g of this.#perStep.gathers) g.write(inputs.slot, { offset });
    this.#writeMasks(inputs, "forward");
    return [...atRecord(this.#forward, inputs.slot), ...this.#lossForward[inputs.slot]];
  }

  /** Zeroes the parameter gradients and the activation gradients the backward accumulates into. */
  zeroGrad(): Command[] {
    return this.#zeroGrad;
  }

  /** Backward of the step in slot `inputs.slot`: the forward in reverse (same dropout masks). */
  backward(inputs: StepInputs): Command[] {
    this.#writeMasks(inputs, "backward");
    return atRecord(this.#backward, inputs.slot);
  }

  /** Gradient norm, then AdamW with the step's learning rate and bias corrections. */
  update(inputs: StepInputs): Command[] {
    const { lr, optimizerStep: step } = inputs;
    this.#perStep.adamw.write(inputs.slot, adamwUniforms({ ...this.#adamwOptions(), lr, step }));
    return atRecord(this.#update, inputs.slot);
  }

  /**
   * One training step, as the algorithm reads: forward, zero the gradients, backward, update.
   * Steps of one submit need distinct slots (each has its own uniform records and loss terms).
   */
  step(inputs: StepInputs): Command[] {
    return [
      ...this.forward(inputs),
      ...this.zeroGrad(),
      ...this.backward(inputs),
      ...this.update(inputs),
    ];
  }

  /** Writes the step's dropout seeds into the slot's records of the masks of one direction. */
  #writeMasks(inputs: StepInputs, dir: "forward" | "backward"): void {
    const seeds = [
      dropoutSeeds(inputs.seed, 0, this.#head.layers),
      dropoutSeeds(inputs.seed, 1, this.#head.layers),
    ];
    for (const mask of this.#perStep.masks) {
      if (mask.dir === dir) {
        mask.records.write(inputs.slot, { seed: seeds[mask.tower][mask.layer] });
      }
    }
  }

  #adamwOptions(): Omit<AdamWOptions, "lr" | "step"> {
    const o = this.#opt;
    return {
      length: this.layout.length,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weightDecay,
      decayEnd: this.layout.decayEnd,
      maxNorm: o.maxGradNorm,
    };
  }

  /** z = [z_image; z_text] (copies: a binding offset must be 256-byte aligned, a copy need not). */
  #concatZ(): Command[] {
    const n = this.#batch * this.#head.outDim;
    return [
      { copy: { src: this.#acts.image.z, dst: { ...this.#z, length: n } } },
      {
        copy: {
          src: this.#acts.text.z,
          dst: { ...this.#z, offset: this.#z.offset + n * 4, length: n },
        },
      },
    ];
  }

  /** The CLIP logits and the classifier logits, for the weighted losses. */
  #similarityAndClassifier(): Command[] {
    const gpu = this.#gpu, B = this.#batch, D = this.#head.outDim, layout = this.layout;
    const out: Command[] = [];
    if (this.#loss.wClip > 0) {
      out.push(
        ...similarityForward(
          gpu,
          this.#acts.image.z,
          this.#acts.text.z,
          layout.view(this.params, "logit_scale"),
          this.#logits,
          { rows: B, cols: B, dim: D },
        ),
      );
    }
    if (this.#loss.wBce > 0) {
      out.push(
        ...linearForward(
          gpu,
          this.#z,
          layout.view(this.params, "classifier.weight"),
          layout.view(this.params, "classifier.bias"),
          this.#cls,
          { rows: 2 * B, inDim: D, outDim: 1 },
        ),
      );
    }
    return out;
  }

  #buildLossForward(slot: number): Command[] {
    const gpu = this.#gpu, B = this.#batch;
    const out: Command[] = [];
    if (this.#loss.wClip > 0) {
      out.push(...clipLossForward(gpu, this.#logits, this.lossView(slot, 0), { n: B }));
    }
    if (this.#supcon) out.push(...this.#supcon.forward(this.lossView(slot, 1)));
    if (this.#loss.wBce > 0) {
      out.push(...bceForward(gpu, this.#cls, this.#labels2, this.lossView(slot, 2), { n: 2 * B }));
    }
    return out;
  }

  #buildLossBackward(): Command[] {
    const gpu = this.#gpu, B = this.#batch, D = this.#head.outDim, layout = this.layout;
    const { wClip, wSupcon, wBce } = this.#loss;
    const out: Command[] = [];
    if (wBce > 0) {
      out.push(
        ...bceBackward(gpu, this.#cls, this.#labels2, this.#dcls, { n: 2 * B, weight: wBce }),
      );
      out.push(
        ...linearBackward(
          gpu,
          this.#z,
          layout.view(this.params, "classifier.weight"),
          this.#dcls,
          this.#dz,
          layout.view(this.grads, "classifier.weight"),
          layout.view(this.grads, "classifier.bias"),
          { rows: 2 * B, inDim: D, outDim: 1 },
        ),
      );
    }
    // After the loss forward of the same step (the template's order), whose S it reuses.
    if (this.#supcon) out.push(...this.#supcon.backwardAfterForward(this.#dz, wSupcon));
    const n = B * D;
    out.push(
      { copy: { src: { ...this.#dz, length: n }, dst: this.#dacts.image.z } },
      {
        copy: {
          src: { ...this.#dz, offset: this.#dz.offset + n * 4, length: n },
          dst: this.#dacts.text.z,
        },
      },
    );
    if (wClip > 0) {
      out.push(...clipLossBackward(gpu, this.#logits, this.#dlogits, { n: B, weight: wClip }));
      out.push(
        ...similarityBackward(
          gpu,
          this.#acts.image.z,
          this.#acts.text.z,
          layout.view(this.params, "logit_scale"),
          this.#dlogits,
          this.#dacts.image.z,
          this.#dacts.text.z,
          layout.view(this.grads, "logit_scale"),
          { rows: B, cols: B, dim: D },
        ),
      );
    }
    return out;
  }
}

/**
 * Seeds of the dropout masks of one head's hidden layers at one step (a 32-bit mix of the step
 * seed, the tower and the layer).
 * @example
 * ```ts
 * dropoutSeeds(12345, 0, 3); // two seeds
 * ```
 */
export function dropoutSeeds(stepSeed: number, tower: number, layers: number): number[] {
  return Array.from({ length: layers - 1 }, (_, l) => mix32(stepSeed, tower * 65536 + l));
}

/**
 * A 32-bit hash of two integers (murmur3 finalizer), for deriving seeds.
 * @example
 * ```ts
 * mix32(1, 2);
 * ```
 */
export function mix32(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul(b >>> 0, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
