/**
 * The rank of each query's paired item (or, per image, the best of its paired items) under tied
 * scores. The GPU's `retrieval_rank` counts only
 * strictly higher scores (ties in the query's favour); identical reports (IU X-ray has hundreds of
 * "no acute cardiopulmonary abnormality") score identically, so that rule inflates R@K. The
 * evaluation's default is the pessimistic rank: every other candidate scoring exactly the same
 * counts against the query.
 *
 * @module
 */

/**
 * How a query's paired item ranks among candidates with exactly its score: `optimistic` (ties
 * count for it: the number of strictly higher scores), `pessimistic` (ties count against it: the
 * number of scores ≥ its own, minus itself) or `average` (the mean of the two).
 */
export type TieRule = "optimistic" | "pessimistic" | "average";

/** The tie rule of R@K, mean/median rank and MRR. */
export const TIE_RULE: TieRule = "pessimistic";

/**
 * The paired candidates of each query: the contiguous columns `[start[i], end[i])` of row i. A
 * study's report pairs with one column (its own report); per image, a report pairs with every
 * image of its study, which the embeddings file keeps together.
 */
export interface PairedColumns {
  /** First paired column of each query. */
  start: ArrayLike<number>;
  /** One past the last paired column of each query. */
  end: ArrayLike<number>;
}

/**
 * Plain CPU reference: the 0-based rank of `row[target]` among the scores of `row`, in the GPU's
 * order (finite scores, highest first; non-finite ones never count as higher), ties resolved by
 * `rule`; a non-finite target score ranks last (`row.length - 1`) under every rule.
 * @example
 * ```ts
 * pairRank([0.9, 0.5, 0.5, 0.5], 2); // 3: pessimistic, the two other 0.5s count against it
 * pairRank([0.9, 0.5, 0.5, 0.5], 2, "optimistic"); // 1
 * pairRank([0.9, 0.5, 0.5, 0.5], 2, "average"); // 2
 * ```
 */
export function pairRank(row: ArrayLike<number>, target: number, rule: TieRule = TIE_RULE): number {
  if (!Number.isInteger(target) || target < 0 || target >= row.length) {
    throw new RangeError(
      `pairRank: target ${target} is not a column of a row of ${row.length} scores`,
    );
  }
  return groupRank(row, target, target + 1, rule);
}

/**
 * Plain CPU reference of a query with several paired candidates (the columns `[start, end)`):
 * the rank of the best-scoring of them ({@link bestPaired}), counting only the other columns —
 * finite scores above it, and under `rule` those exactly equal to it. So the query is retrieved
 * at rank r when r unpaired candidates come before its first paired one, ties resolved by `rule`.
 * No finite paired score: the last rank (`row.length - 1`). With one column it is
 * {@link pairRank}.
 * @example
 * ```ts
 * // Columns 1 and 2 are the query's; its best, 0.7, has 0.9 above and one 0.7 tied outside.
 * groupRank([0.9, 0.7, 0.7, 0.7, 0.1], 1, 3); // 2 (pessimistic)
 * groupRank([0.9, 0.7, 0.7, 0.7, 0.1], 1, 3, "optimistic"); // 1
 * ```
 */
export function groupRank(
  row: ArrayLike<number>,
  start: number,
  end: number,
  rule: TieRule = TIE_RULE,
): number {
  const n = row.length;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > n) {
    throw new RangeError(
      `groupRank: paired columns [${start}, ${end}) are not a non-empty range of a row of ${n} ` +
        "scores",
    );
  }
  const own = row[bestPaired(row, start, end)];
  if (!Number.isFinite(own)) return n - 1;
  let above = 0, tied = 0;
  for (let j = 0; j < n; j++) {
    if (j >= start && j < end) continue;
    const s = row[j];
    if (!Number.isFinite(s)) continue;
    if (s > own) above++;
    else if (s === own) tied++;
  }
  return resolveTies(above, tied, rule);
}

/**
 * The column of the highest finite score among `row[start..end)`, the lowest such column on ties
 * (the GPU's order); `start` when none is finite.
 * @example
 * ```ts
 * bestPaired([0.9, 0.2, 0.6, 0.6], 1, 4); // 2
 * bestPaired([0.9, NaN, NaN], 1, 3); // 1
 * ```
 */
export function bestPaired(row: ArrayLike<number>, start: number, end: number): number {
  let best = start;
  for (let j = start; j < end; j++) {
    const s = row[j];
    if (Number.isFinite(s) && (!Number.isFinite(row[best]) || s > row[best])) best = j;
  }
  return best;
}

function resolveTies(above: number, tied: number, rule: TieRule): number {
  if (rule === "optimistic") return above;
  return rule === "pessimistic" ? above + tied : above + tied / 2;
}

/**
 * Ranks under `rule` from the GPU's optimistic ranks (`retrieval_rank`: strictly higher finite
 * scores) and the same score rows read back: adds, for each row, the other candidates whose score
 * equals the target's exactly (a non-finite target keeps its last rank). `scores` holds
 * `optimistic.length` rows of `cols` scores; row i's target is `targets[i]`. With `paired`, the
 * target is row i's best paired column ({@link bestPaired}) and the other paired columns are not
 * counted as ties ({@link groupRank}).
 * @example
 * ```ts
 * const scores = new Float32Array([0.5, 0.5, 0.1, 0.2, 0.9, 0.2]); // 2 queries x 3 candidates
 * withTies(new Uint32Array([0, 1]), scores, 3, [1, 0]); // Float64Array [1, 2]
 * ```
 */
export function withTies(
  optimistic: ArrayLike<number>,
  scores: Float32Array,
  cols: number,
  targets: ArrayLike<number>,
  rule: TieRule = TIE_RULE,
  paired?: PairedColumns,
): Float64Array {
  const rows = optimistic.length;
  if (scores.length !== rows * cols || targets.length !== rows) {
    throw new RangeError(
      `withTies: expected ${rows} targets and ${rows} x ${cols} scores, got ` +
        `${targets.length} targets and ${scores.length} scores`,
    );
  }
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const own = scores[i * cols + targets[i]];
    if (!Number.isFinite(own)) {
      out[i] = optimistic[i];
      continue;
    }
    const from = paired ? paired.start[i] : targets[i], to = paired ? paired.end[i] : from + 1;
    let tied = 0;
    for (let j = 0; j < cols; j++) {
      if ((j < from || j >= to) && scores[i * cols + j] === own) tied++;
    }
    out[i] = resolveTies(optimistic[i], tied, rule);
  }
  return out;
}
