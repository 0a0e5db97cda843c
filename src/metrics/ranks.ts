/**
 * The rank of each query's paired item under tied scores. The GPU's `retrieval_rank` counts only
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
  const n = row.length;
  if (!Number.isInteger(target) || target < 0 || target >= n) {
    throw new RangeError(`pairRank: target ${target} is not a column of a row of ${n} scores`);
  }
  const own = row[target];
  if (!Number.isFinite(own)) return n - 1;
  let above = 0, tied = 0;
  for (let j = 0; j < n; j++) {
    const s = row[j];
    if (!Number.isFinite(s)) continue;
    if (s > own) above++;
    else if (s === own && j !== target) tied++;
  }
  return resolveTies(above, tied, rule);
}

function resolveTies(above: number, tied: number, rule: TieRule): number {
  if (rule === "optimistic") return above;
  return rule === "pessimistic" ? above + tied : above + tied / 2;
}

/**
 * Ranks under `rule` from the GPU's optimistic ranks (`retrieval_rank`: strictly higher finite
 * scores) and the same score rows read back: adds, for each row, the other candidates whose score
 * equals the target's exactly (a non-finite target keeps its last rank). `scores` holds
 * `optimistic.length` rows of `cols` scores; row i's target is `targets[i]`.
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
    let tied = -1; // the target equals itself
    for (let j = i * cols; j < (i + 1) * cols; j++) if (scores[j] === own) tied++;
    out[i] = resolveTies(optimistic[i], tied, rule);
  }
  return out;
}
