/**
 * The loss slots a training step writes its loss terms to, and their read-back. The slots are
 * double-buffered: a chunk of steps writes one half while the host reads the previous chunk's
 * half, so reading the loss never stalls the GPU.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import type { LossConfig } from "./config.ts";

/** Loss terms written by a step, in slot order: CLIP, SupCon, BCE. */
export const LOSS_TERMS = ["clip", "supcon", "bce"] as const;

/** One value per loss term. */
export type LossTerms = Record<(typeof LOSS_TERMS)[number], number>;

/**
 * Floats from one loss term to the next in the loss-slot buffer: 64 floats are 256 bytes, the
 * WebGPU storage-buffer offset alignment, so a kernel can bind each term as its own view.
 */
export const LOSS_STRIDE = 64;

/**
 * Index (in floats) of loss term `k` of `slot`.
 * @example
 * ```ts
 * lossIndex(1, 2); // (1·3 + 2)·64 = 320
 * ```
 */
export function lossIndex(slot: number, k: number): number {
  return (slot * LOSS_TERMS.length + k) * LOSS_STRIDE;
}

/**
 * Floats of a loss-slot buffer of `slots` slots.
 * @example
 * ```ts
 * lossSlotsLength(2); // 2·3·64 = 384
 * ```
 */
export function lossSlotsLength(slots: number): number {
  return lossIndex(slots, 0);
}

/**
 * The loss terms of `slot` in a read-back loss-slot buffer, in {@link LOSS_TERMS} order.
 * @example
 * ```ts
 * const values = new Float32Array(lossSlotsLength(2));
 * values[lossIndex(1, 0)] = 2.5;
 * lossTermsAt(values, 1); // [2.5, 0, 0]
 * ```
 */
export function lossTermsAt(values: Float32Array, slot: number): number[] {
  return LOSS_TERMS.map((_, k) => values[lossIndex(slot, k)]);
}

/** Thrown when a loss becomes NaN or infinite; the last good checkpoint is kept. */
export class DivergedError extends Error {
  /**
   * @param step the optimizer step whose loss was not finite
   * @param detail the loss terms
   */
  constructor(readonly step: number, detail: string) {
    super(
      `training diverged: non-finite loss at step ${step} (${detail}); the last good checkpoint is kept`,
    );
    this.name = "DivergedError";
  }
}

/** The losses of a chunk of steps, as {@link LossReadback.drain} returns them. */
export interface ChunkLosses {
  /** Optimizer steps done after the chunk's last step. */
  last: number;
  /** Steps in the chunk. */
  steps: number;
  /** Mean weighted total loss of the chunk's steps. */
  loss: number;
  /** Mean loss terms of the chunk's steps. */
  terms: LossTerms;
}

/**
 * Reads back the loss slots chunk by chunk: a chunk of up to `chunk` steps writes its losses to
 * {@link LossReadback.slot}`(k)`, is submitted, and {@link LossReadback.start} queues its read;
 * {@link LossReadback.drain} awaits the read of the chunk before, checks every loss is finite
 * and returns the chunk's means. The graph needs {@link LossReadback.slots}`(chunk)` slots.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const values = new Float32Array(lossSlotsLength(LossReadback.slots(1)));
 *   values[lossIndex(0, 0)] = 2; // as a step writing slot 0 would leave its CLIP loss
 *   const losses = gpu.storage(values, "loss slots");
 *   const readback = new LossReadback(gpu, losses, 1, { wClip: 1, wSupcon: 0.5, wBce: 0.5 });
 *   readback.slot(0); // 0: the slot the chunk's first step writes
 *   readback.start(1, 1); // after submitting the chunk of step 1
 *   const chunk = await readback.drain();
 *   chunk?.loss; // 2
 * }
 * ```
 */
export class LossReadback {
  readonly #gpu: GpuContext;
  readonly #losses: GpuView;
  readonly #weights: Pick<LossConfig, "wClip" | "wSupcon" | "wBce">;
  #half = 0;
  #inFlight: {
    read: Promise<ArrayBuffer[]>;
    first: number;
    steps: number;
    half: number;
  } | null = null;

  /** Slots a graph needs for chunks of up to `chunk` steps: two halves. */
  static slots(chunk: number): number {
    return 2 * chunk;
  }

  /**
   * @param losses the graph's loss slots, {@link LossReadback.slots}`(chunk)` of them
   * @param chunk steps per chunk at most
   * @param weights the loss weights that make the total
   */
  constructor(
    gpu: GpuContext,
    losses: GpuView,
    readonly chunk: number,
    weights: Pick<LossConfig, "wClip" | "wSupcon" | "wBce">,
  ) {
    this.#gpu = gpu;
    this.#losses = losses;
    this.#weights = weights;
  }

  /** The slot step `k` of the next chunk writes to. */
  slot(k: number): number {
    return this.#half * this.chunk + k;
  }

  /**
   * Queues the read of the chunk just submitted: `steps` steps from optimizer step `first`
   * (1-based). The chunk before must have been drained.
   */
  start(first: number, steps: number): void {
    if (this.#inFlight) throw new Error("LossReadback.start: the previous chunk is not drained");
    const read = this.#gpu.readBytes([this.#losses]);
    this.#inFlight = { read, first, steps, half: this.#half };
    this.#half = 1 - this.#half;
  }

  /**
   * The losses of the chunk in flight (null when none); throws {@link DivergedError} naming the
   * first step whose weighted loss is not finite.
   */
  async drain(): Promise<ChunkLosses | null> {
    if (!this.#inFlight) return null;
    const { read, first, steps, half } = this.#inFlight;
    this.#inFlight = null;
    const values = new Float32Array((await read)[0]);
    const w = this.#weights;
    const terms: LossTerms = { clip: 0, supcon: 0, bce: 0 };
    let loss = 0;
    for (let k = 0; k < steps; k++) {
      const t = lossTermsAt(values, half * this.chunk + k);
      const weighted = w.wClip * t[0] + w.wSupcon * t[1] + w.wBce * t[2];
      if (!Number.isFinite(weighted)) {
        throw new DivergedError(first + k, LOSS_TERMS.map((n, j) => `${n} ${t[j]}`).join(", "));
      }
      LOSS_TERMS.forEach((n, j) => terms[n] += t[j] / steps);
      loss += weighted / steps;
    }
    return { last: first + steps - 1, steps, loss, terms };
  }
}
