/**
 * Configuration of the projector heads and of the composite loss.
 *
 * @module
 */

/** Shape of each modality's projector head (image and text heads share it). */
export interface HeadConfig {
  /** Width of the frozen encoder embeddings (512 for BiomedCLIP). */
  inDim: number;
  /** Width of the hidden layers. */
  hidden: number;
  /** Width of the projected embedding. */
  outDim: number;
  /** Number of linear layers per head (>= 1); GELU and dropout sit between them. */
  layers: number;
  /** Dropout probability after each hidden GELU. */
  dropout: number;
}

/** Weights of the composite loss terms and the SupCon temperature. */
export interface LossConfig {
  /** Weight of the CLIP (symmetric InfoNCE) term. */
  wClip: number;
  /** Weight of the supervised contrastive term. */
  wSupcon: number;
  /** Weight of the normal/abnormal binary cross-entropy term. */
  wBce: number;
  /** Temperature of the supervised contrastive loss. */
  temperature: number;
}

/** Defaults (chosen by us; the paper publishes none): 512→512→256 heads. */
export const DEFAULT_HEAD: HeadConfig = {
  inDim: 512,
  hidden: 512,
  outDim: 256,
  layers: 2,
  dropout: 0.1,
};

/** Default loss weights and SupCon temperature. */
export const DEFAULT_LOSS: LossConfig = { wClip: 1, wSupcon: 0.5, wBce: 0.5, temperature: 0.1 };

/**
 * Throws an error naming the field unless the head configuration is usable.
 * @example
 * ```ts
 * validateHeadConfig({ inDim: 512, hidden: 512, outDim: 256, layers: 2, dropout: 0.1 });
 * ```
 */
export function validateHeadConfig(c: HeadConfig): void {
  for (const k of ["inDim", "hidden", "outDim", "layers"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) {
      throw new Error(`head config: ${k} must be an integer >= 1, got ${c[k]}`);
    }
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) {
    throw new Error(`head config: dropout must be in [0, 1), got ${c.dropout}`);
  }
}

/**
 * Widths of the linear layers of one head: `[inDim, hidden, …, outDim]` (layers + 1 entries).
 * @example
 * ```ts
 * layerWidths({ inDim: 512, hidden: 512, outDim: 256, layers: 2, dropout: 0 }); // [512, 512, 256]
 * ```
 */
export function layerWidths(c: HeadConfig): number[] {
  return [c.inDim, ...Array(c.layers - 1).fill(c.hidden), c.outDim];
}
