/**
 * Input standardization of the frozen embeddings: per modality, subtract the training split's
 * mean embedding and divide by its per-dimension standard deviation. Frozen encoders put most of
 * an embedding's norm in a direction shared by every input; without this the heads can fall into
 * the collapsed solution (every projection the same, loss ln B) before they find the variation.
 * The statistics are part of the model: saved in checkpoints and applied by the Projector.
 *
 * @module
 */

/** Mean and standard deviation per dimension of one modality. */
export interface Moments {
  /** Mean embedding [dim]. */
  mean: Float32Array<ArrayBuffer>;
  /** Standard deviation per dimension [dim] (at least 1e-6). */
  std: Float32Array<ArrayBuffer>;
}

/** Standardization of both modalities. */
export interface InputNorm {
  /** Image embeddings. */
  image: Moments;
  /** Report embeddings. */
  text: Moments;
}

/**
 * Moments of the `rows` of `values` [*, dim].
 * @example
 * ```ts
 * const m = moments(new Float32Array([1, 2, 3, 4]), 2, Uint32Array.of(0, 1)); // mean [2, 3]
 * ```
 */
export function moments(values: Float32Array, dim: number, rows: Uint32Array): Moments {
  const mean = new Float64Array(dim), sq = new Float64Array(dim);
  for (const r of rows) for (let j = 0; j < dim; j++) mean[j] += values[r * dim + j] / rows.length;
  for (const r of rows) {
    for (let j = 0; j < dim; j++) sq[j] += (values[r * dim + j] - mean[j]) ** 2 / rows.length;
  }
  return {
    mean: Float32Array.from(mean),
    std: Float32Array.from(sq, (v) => Math.max(Math.sqrt(v), 1e-6)),
  };
}

/**
 * `(values - mean) / std` row by row, as a new array.
 * @example
 * ```ts
 * const m = { mean: new Float32Array([1]), std: new Float32Array([2]) };
 * standardize(new Float32Array([3, 5]), m); // [1, 2]
 * ```
 */
export function standardize(values: Float32Array, m: Moments): Float32Array<ArrayBuffer> {
  const dim = m.mean.length, out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const j = i % dim;
    out[i] = (values[i] - m.mean[j]) / m.std[j];
  }
  return out;
}
