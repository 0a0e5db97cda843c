/**
 * CPU twin of `kernels/gather.wgsl`: copies rows of a matrix picked by an index buffer (batch
 * assembly), word for word, whatever the element type.
 *
 * @module
 */

/** Shape of a row gather. */
export interface GatherShape {
  /** Number of rows to gather (rows of `dst`). */
  rows: number;
  /** Words per row (1 for a label vector). */
  dim: number;
  /** First entry of `index` to use: row i of `dst` is row `index[offset + i]` of `src`. */
  offset: number;
}

/** Arrays the twin gathers between. */
export type WordArray = Float64Array | Float32Array | Int32Array | Uint32Array;

/**
 * Checks a gather's shape against the buffer lengths and returns the number of rows of `src`;
 * errors name `kernel`, the field and what was expected.
 * @example
 * ```ts
 * checkGather("gather_rows", { rows: 2, dim: 3, offset: 0 }, { src: 12, index: 2, dst: 6 }); // 4
 * ```
 */
export function checkGather(
  kernel: string,
  shape: GatherShape,
  lengths: { src: number; index: number; dst: number },
): number {
  const { rows, dim, offset } = shape;
  for (const [name, v, min] of [["rows", rows, 1], ["dim", dim, 1], ["offset", offset, 0]]) {
    if (!Number.isInteger(v) || (v as number) < (min as number)) {
      throw new RangeError(`${kernel}: ${name} must be an integer >= ${min}, got ${v}`);
    }
  }
  if (lengths.src < dim || lengths.src % dim !== 0) {
    throw new RangeError(
      `${kernel}: src has ${lengths.src} elements, expected a whole number (>= 1) of rows of ${dim}`,
    );
  }
  if (lengths.index < offset + rows) {
    throw new RangeError(
      `${kernel}: index has ${lengths.index} elements, expected at least offset + rows = ${
        offset + rows
      }`,
    );
  }
  if (lengths.dst < rows * dim) {
    throw new RangeError(
      `${kernel}: dst has ${lengths.dst} elements, expected at least rows * dim = ${rows * dim}`,
    );
  }
  return lengths.src / dim;
}

/**
 * `dst[i, :] = src[index[offset + i], :]` for `i < rows`. Throws on an index outside `src`
 * (the GPU kernel, which cannot throw, writes zeros there).
 * @example
 * ```ts
 * const dst = new Float32Array(2);
 * gatherRows(new Float32Array([10, 20, 30]), new Uint32Array([2, 0]), dst, {
 *   rows: 2, dim: 1, offset: 0,
 * }); // dst = [30, 10]
 * ```
 */
export function gatherRows(
  src: WordArray,
  index: Uint32Array,
  dst: WordArray,
  shape: GatherShape,
): void {
  const { rows, dim, offset } = shape;
  const srcRows = checkGather("gather_rows", shape, {
    src: src.length,
    index: index.length,
    dst: dst.length,
  });
  for (let i = 0; i < rows; i++) {
    const r = index[offset + i];
    if (r >= srcRows) {
      throw new RangeError(`gather_rows: index[${offset + i}] = ${r}, src has ${srcRows} rows`);
    }
    dst.set(src.subarray(r * dim, (r + 1) * dim), i * dim);
  }
}
