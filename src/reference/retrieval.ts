/**
 * CPU twin of `kernels/retrieval.wgsl`: per-query rank of the matching item and the top k
 * items of a score matrix (rows = queries, columns = candidates), for evaluation. Scores are
 * compared as given: pass float32-rounded values to reproduce the GPU exactly.
 *
 * @module
 */

/** Shape of a score matrix. */
export interface RetrievalShape {
  /** Queries. */
  rows: number;
  /** Candidates per query. */
  cols: number;
}

/** Shape of a top-k selection. */
export interface TopKShape extends RetrievalShape {
  /** Items kept per query, 1 ≤ k ≤ min(cols, {@link TOP_K_MAX}). */
  k: number;
}

/** Largest k {@link topK} supports (the kernel keeps the list in registers). */
export const TOP_K_MAX = 64;

/** Rank the GPU writes for a target outside `[0, cols)` (2^32 - 1); the twin throws instead. */
export const INVALID_RANK = 0xffffffff;

/** Index of the padding entries of a top-k row that has fewer than k non-NaN scores. */
export const NO_INDEX = 0xffffffff;

/**
 * Checks a score-matrix shape (and k, for top-k); errors name `kernel` and the field.
 * @example
 * ```ts
 * checkRetrieval("top_k", { rows: 2, cols: 10, k: 5 });
 * ```
 */
export function checkRetrieval(kernel: string, shape: RetrievalShape & { k?: number }): void {
  const { rows, cols, k } = shape;
  for (const [name, v] of [["rows", rows], ["cols", cols]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${kernel}: ${name} must be an integer >= 1, got ${v}`);
    }
  }
  if (k === undefined) return;
  if (!Number.isInteger(k) || k < 1 || k > TOP_K_MAX) {
    throw new RangeError(`${kernel}: k must be an integer in [1, ${TOP_K_MAX}], got ${k}`);
  }
  if (k > cols) {
    throw new RangeError(`${kernel}: k = ${k} is larger than cols = ${cols}; k must be <= cols`);
  }
}

/**
 * `rank[i]` = number of `j` with `scores[i, j] > scores[i, target[i]]`: 0 is best, ties count in
 * the query's favour. Throws on a target outside `[0, cols)`.
 * @example
 * ```ts
 * const rank = new Uint32Array(1);
 * retrievalRank(new Float64Array([0.1, 0.9, 0.5]), new Uint32Array([2]), rank, {
 *   rows: 1, cols: 3,
 * }); // rank = [1]
 * ```
 */
export function retrievalRank(
  scores: Float64Array,
  target: Uint32Array,
  rank: Uint32Array,
  shape: RetrievalShape,
): void {
  checkRetrieval("retrieval_rank", shape);
  const { rows, cols } = shape;
  for (let i = 0; i < rows; i++) {
    const t = target[i];
    if (!(t < cols)) {
      throw new RangeError(`retrieval_rank: target[${i}] = ${t} is outside [0, cols = ${cols})`);
    }
    const s = scores[i * cols + t];
    let count = 0;
    for (let j = 0; j < cols; j++) if (scores[i * cols + j] > s) count++;
    rank[i] = count;
  }
}

/**
 * The `k` best candidates of each query, best first: `outIndex[i, r]`, `outScore[i, r]` for
 * `r < k`; equal scores are ordered by lower index. NaN scores are never selected: a row with
 * fewer than `k` other scores is padded with (`-Infinity`, {@link NO_INDEX}).
 * @example
 * ```ts
 * const idx = new Uint32Array(2), val = new Float64Array(2);
 * topK(new Float64Array([0.5, 0.9, 0.5, 0.1]), idx, val, { rows: 1, cols: 4, k: 2 });
 * // idx = [1, 0], val = [0.9, 0.5]
 * ```
 */
export function topK(
  scores: Float64Array,
  outIndex: Uint32Array,
  outScore: Float64Array,
  shape: TopKShape,
): void {
  checkRetrieval("top_k", shape);
  const { rows, cols, k } = shape;
  // (s, j) ranks before (t, i): higher score, or equal score and lower index; NaN never does.
  const before = (s: number, j: number, t: number, i: number) => s > t || (s === t && j < i);
  for (let i = 0; i < rows; i++) {
    // One sequential scan with a sorted list of k, starting from padding entries.
    const best = new Float64Array(k).fill(-Infinity), index = new Uint32Array(k).fill(NO_INDEX);
    for (let j = 0; j < cols; j++) {
      const s = scores[i * cols + j];
      if (!before(s, j, best[k - 1], index[k - 1])) continue;
      let p = k - 1;
      for (; p > 0 && before(s, j, best[p - 1], index[p - 1]); p--) {
        best[p] = best[p - 1];
        index[p] = index[p - 1];
      }
      best[p] = s;
      index[p] = j;
    }
    outScore.set(best, i * k);
    outIndex.set(index, i * k);
  }
}
