/**
 * CPU twin of `kernels/retrieval.wgsl`: per-query rank of the matching item and the top k
 * items of a score matrix (rows = queries, columns = candidates), for evaluation. Scores are
 * compared as given: pass float32-rounded values to reproduce the GPU exactly.
 *
 * One order serves both: finite scores, highest first, then every non-finite score (NaN,
 * `+Infinity`, `-Infinity`: a broken similarity, which must never look like a match), all equal
 * to each other; equal scores go by lower index first ({@link ranksBefore}).
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

/**
 * True when candidate `j` with score `s` comes before candidate `i` with score `t` in a ranking:
 * a finite score before a non-finite one (NaN, ±Infinity), then the higher finite score, then
 * the lower index. Non-finite scores are never compared, only their indices.
 * @example
 * ```ts
 * ranksBefore(0.5, 3, 0.5, 7); // true: equal scores, lower index
 * ranksBefore(Infinity, 0, -2, 1); // false: a non-finite score ranks after every finite one
 * ranksBefore(NaN, 0, -Infinity, 1); // true: both non-finite, lower index
 * ```
 */
export function ranksBefore(s: number, j: number, t: number, i: number): boolean {
  const finite = Number.isFinite(s);
  if (finite !== Number.isFinite(t)) return finite;
  if (finite && s !== t) return s > t;
  return j < i;
}

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
 * Rank of each query's target, 0 = best. For a finite target score `rank[i]` = number of `j`
 * with a finite `scores[i, j] > scores[i, target[i]]`: ties count in the query's favour
 * (optimistic). A non-finite target score ranks last, `cols - 1`: it never counts as retrieved.
 * Throws on a target outside `[0, cols)`.
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
    if (!Number.isFinite(s)) {
      rank[i] = cols - 1;
      continue;
    }
    let count = 0;
    for (let j = 0; j < cols; j++) {
      const other = scores[i * cols + j];
      if (Number.isFinite(other) && other > s) count++;
    }
    rank[i] = count;
  }
}

/**
 * The first `k` candidates of each query in the order of {@link ranksBefore}: `outIndex[i, r]`,
 * `outScore[i, r]` (the score as given) for `r < k`. Finite scores come first, highest first;
 * equal scores by lower index; non-finite scores (NaN, ±Infinity) only after every finite one,
 * by index.
 * @example
 * ```ts
 * const idx = new Uint32Array(3), val = new Float64Array(3);
 * topK(new Float64Array([0.5, Infinity, 0.5, NaN]), idx, val, { rows: 1, cols: 4, k: 3 });
 * // idx = [0, 2, 1], val = [0.5, 0.5, Infinity]
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
  for (let i = 0; i < rows; i++) {
    // One sequential scan with a sorted list of k, starting from placeholders that every
    // candidate beats (non-finite, largest index); k <= cols pushes them all out.
    const best = new Float64Array(k).fill(-Infinity), index = new Uint32Array(k).fill(0xffffffff);
    for (let j = 0; j < cols; j++) {
      const s = scores[i * cols + j];
      if (!ranksBefore(s, j, best[k - 1], index[k - 1])) continue;
      let p = k - 1;
      for (; p > 0 && ranksBefore(s, j, best[p - 1], index[p - 1]); p--) {
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
