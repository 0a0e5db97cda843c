/**
 * The loss slots a training step writes its loss terms to, and how the host reads them back.
 *
 * @module
 */

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
