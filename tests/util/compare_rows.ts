/**
 * How close two sets of embeddings are, row by row: what the encoder parity tests assert
 * (max abs error <= 1e-4, cosine >= 0.99999).
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Max abs error over all values and min cosine over rows of `dim` values.
 * @example
 * ```ts
 * const r = compareRows(new Float32Array([1, 0, 0, 1]), new Float32Array([1, 0, 0, 2]), 2);
 * // { maxAbs: 1, minCos: 1 }
 * ```
 */
export function compareRows(
  got: Float32Array,
  want: Float32Array,
  dim: number,
): { maxAbs: number; minCos: number } {
  assert.equal(got.length, want.length, "number of values");
  let maxAbs = 0, minCos = 1;
  for (let r = 0; r < got.length / dim; r++) {
    let dot = 0, ng = 0, nw = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
      dot += got[i] * want[i];
      ng += got[i] * got[i];
      nw += want[i] * want[i];
    }
    minCos = Math.min(minCos, dot / Math.sqrt(ng * nw));
  }
  return { maxAbs, minCos };
}

/** What {@link oracleParity} measured. */
export interface Parity {
  /** Image embeddings from the encoder. */
  image: Float32Array;
  /** One line: items, seconds, max abs error and min cosine per tower. */
  summary: string;
}

/**
 * Runs both encoders on an oracle's `io.safetensors` inputs (pixel_values, input_ids,
 * attention_mask), compares with its image_embeds / text_embeds, and asserts max abs error
 * <= 1e-4 and cosine >= 0.99999 for each tower.
 * @example
 * ```ts
 * const embeds = new Float32Array([0.6, 0.8]);
 * const io = new Map(Object.entries({
 *   pixel_values: { data: new Float32Array(3) },
 *   input_ids: { data: new BigInt64Array(1) },
 *   attention_mask: { data: new BigInt64Array([1n]) },
 *   image_embeds: { data: embeds },
 *   text_embeds: { data: embeds },
 * }));
 * const tower = { encode: () => Promise.resolve(embeds) }; // an ImageEncoder / TextEncoder
 * const { summary } = await oracleParity(tower, tower, io, 2);
 * // "1 images 0.00 s (max abs 0.00e+0, min cos 1.000000000); 1 texts …"
 * ```
 */
export async function oracleParity(
  image: { encode(pixels: Float32Array): Promise<Float32Array> },
  text: { encode(ids: BigInt64Array, mask: BigInt64Array): Promise<Float32Array> },
  io: Map<string, { data: ArrayLike<unknown> }>,
  dim: number,
): Promise<Parity> {
  const get = <T>(key: string) => io.get(key)!.data as T;
  const timed = async (run: () => Promise<Float32Array>) => {
    const t0 = performance.now();
    const out = await run();
    return { out, s: (performance.now() - t0) / 1000 };
  };
  const img = await timed(() => image.encode(get<Float32Array>("pixel_values")));
  const txt = await timed(() =>
    text.encode(get<BigInt64Array>("input_ids"), get<BigInt64Array>("attention_mask"))
  );
  const parts: string[] = [];
  for (
    const [tower, run, want] of [
      ["images", img, get<Float32Array>("image_embeds")],
      ["texts", txt, get<Float32Array>("text_embeds")],
    ] as const
  ) {
    const r = compareRows(run.out, want, dim);
    parts.push(
      `${run.out.length / dim} ${tower} ${run.s.toFixed(2)} s (max abs ` +
        `${r.maxAbs.toExponential(2)}, min cos ${r.minCos.toFixed(9)})`,
    );
    assert.ok(r.maxAbs <= 1e-4, `${tower}: max abs error ${r.maxAbs} > 1e-4`);
    assert.ok(r.minCos >= 0.99999, `${tower}: cosine ${r.minCos} < 0.99999`);
  }
  return { image: img.out, summary: parts.join("; ") };
}
