/**
 * A SYNTHETIC embeddings set where pairs and labels are learnable: each pair shares a latent
 * vector (whose first coordinate carries the normal/abnormal label); images and reports see it
 * through two different random linear maps plus noise, so raw cosine similarity across modalities
 * is near chance while a trained projector head can align them. For tests and smoke runs; it is
 * not medical data.
 *
 * @module
 */

import type { EmbeddingSet } from "../io/embeddings.ts";
import { Rng } from "../util/rng.ts";

/** Options of {@link syntheticEmbeddings}. */
export interface SyntheticEmbeddingOptions {
  /** Number of pairs. */
  count: number;
  /** Embedding width. */
  dim: number;
  /** Latent width shared by the two modalities. */
  latent: number;
  /** Noise standard deviation relative to the signal. */
  noise: number;
  /** Fractions of validation and test rows (the rest trains). */
  validation: number;
  /** Fraction of test rows. */
  test: number;
  /** Seed. */
  seed: number;
}

/**
 * Generates the set; deterministic in `seed`.
 * @example
 * ```ts
 * const set = syntheticEmbeddings({
 *   count: 100, dim: 32, latent: 8, noise: 0.3, validation: 0.2, test: 0.1, seed: 1,
 * });
 * set.image.length; // 100 * 32
 * ```
 */
export function syntheticEmbeddings(o: SyntheticEmbeddingOptions): EmbeddingSet {
  const rng = new Rng(o.seed);
  const map = () =>
    Float64Array.from({ length: o.latent * o.dim }, () => rng.normal() / Math.sqrt(o.latent));
  const toImage = map(), toText = map();
  const image = new Float32Array(o.count * o.dim), text = new Float32Array(o.count * o.dim);
  const label = new Int32Array(o.count), split = new Int32Array(o.count);
  const ids: string[] = [];
  const c = new Float64Array(o.latent);
  for (let i = 0; i < o.count; i++) {
    label[i] = rng.uniform() < 0.6 ? 1 : 0;
    for (let k = 0; k < o.latent; k++) c[k] = rng.normal();
    c[0] = label[i] === 1 ? 2 + 0.3 * rng.normal() : -2 + 0.3 * rng.normal();
    for (const [out, m] of [[image, toImage], [text, toText]] as const) {
      for (let j = 0; j < o.dim; j++) {
        let s = 0;
        for (let k = 0; k < o.latent; k++) s += c[k] * m[k * o.dim + j];
        out[i * o.dim + j] = s + o.noise * rng.normal();
      }
    }
    const u = rng.uniform();
    split[i] = u < o.test ? 2 : u < o.test + o.validation ? 1 : 0;
    ids.push(`synthetic-embedding-${String(i).padStart(6, "0")}`);
  }
  return {
    ids,
    image,
    text,
    label,
    split,
    count: o.count,
    dim: o.dim,
    metadata: { synthetic: "true", generator: "syntheticEmbeddings", seed: String(o.seed) },
  };
}
