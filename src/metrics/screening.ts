/**
 * Screening metrics of a normal/abnormal classifier from its probabilities of abnormal: accuracy,
 * sensitivity and specificity at a threshold, AUROC and the ROC curve. Abnormal (label 1) is the
 * positive class; a study is called abnormal when its probability is at least the threshold.
 *
 * @module
 */

/** The screening metrics of one set of predictions. */
export interface ScreeningMetrics {
  /** Share of studies called correctly at the threshold. */
  accuracy: number;
  /** True-positive rate at the threshold: abnormal studies called abnormal / abnormal studies. */
  sensitivity: number;
  /** True-negative rate at the threshold: normal studies called normal / normal studies. */
  specificity: number;
  /**
   * Area under the ROC curve: the probability that a random abnormal study scores above a random
   * normal one, ties counting one half (the Mann-Whitney U statistic over P·N).
   */
  auroc: number;
  /** The threshold used. */
  threshold: number;
  /** Abnormal studies (P). */
  positives: number;
  /** Normal studies (N). */
  negatives: number;
}

/** One point of the ROC curve. */
export interface RocPoint {
  /** False-positive rate (1 - specificity). */
  fpr: number;
  /** True-positive rate (sensitivity). */
  tpr: number;
  /** Scores at or above this are called abnormal (Infinity at the first point, (0, 0)). */
  threshold: number;
}

/** Options of {@link screeningMetrics}. */
export interface ScreeningOptions {
  /** Probability at or above which a study is called abnormal (default 0.5). */
  threshold?: number;
}

/**
 * Accuracy, sensitivity and specificity at the threshold (default 0.5), and AUROC. A metric that
 * needs a class the labels lack is NaN: sensitivity and AUROC without an abnormal study,
 * specificity and AUROC without a normal one.
 * @example
 * ```ts
 * screeningMetrics([0.9, 0.4, 0.2, 0.6], [1, 1, 0, 0]);
 * // { accuracy: 0.5, sensitivity: 0.5, specificity: 0.5, auroc: 0.75, threshold: 0.5,
 * //   positives: 2, negatives: 2 }
 * ```
 */
export function screeningMetrics(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: ScreeningOptions = {},
): ScreeningMetrics {
  const threshold = options.threshold ?? 0.5;
  if (!Number.isFinite(threshold)) {
    throw new RangeError(`screening: threshold must be a finite number, got ${threshold}`);
  }
  const { positives, negatives } = checkInputs(probabilities, labels);
  let tp = 0, tn = 0;
  for (let i = 0; i < labels.length; i++) {
    const called = probabilities[i] >= threshold;
    if (labels[i] === 1 && called) tp++;
    if (labels[i] === 0 && !called) tn++;
  }
  return {
    accuracy: (tp + tn) / labels.length,
    sensitivity: tp / positives,
    specificity: tn / negatives,
    auroc: auroc(probabilities, labels),
    threshold,
    positives,
    negatives,
  };
}

/**
 * AUROC by the Mann-Whitney form: rank all scores ascending (tied scores share their average
 * rank), then `(sum of the abnormal ranks - P(P+1)/2) / (P·N)`. NaN when a class is missing.
 * @example
 * ```ts
 * auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]); // 0.75
 * auroc([0.5, 0.5], [0, 1]); // 0.5 (a tie counts one half)
 * ```
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { positives, negatives } = checkInputs(scores, labels);
  if (positives === 0 || negatives === 0) return NaN;
  const order = Array.from({ length: labels.length }, (_, i) => i)
    .sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end++;
    const averageRank = (start + 1 + end) / 2; // 1-based ranks start+1 … end
    for (let k = start; k < end; k++) if (labels[order[k]] === 1) rankSum += averageRank;
    start = end;
  }
  return (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
}

/**
 * The ROC curve: from (0, 0) at threshold Infinity, one point per distinct score, highest first
 * (tied scores move together, a diagonal step), ending at (1, 1). Its trapezoid area equals
 * {@link auroc}. Empty when a class is missing (no curve exists).
 * @example
 * ```ts
 * rocCurve([0.9, 0.4, 0.2], [1, 0, 1]);
 * // [{ fpr: 0, tpr: 0, threshold: Infinity }, { fpr: 0, tpr: 0.5, threshold: 0.9 },
 * //  { fpr: 1, tpr: 0.5, threshold: 0.4 }, { fpr: 1, tpr: 1, threshold: 0.2 }]
 * ```
 */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocPoint[] {
  const { positives, negatives } = checkInputs(scores, labels);
  if (positives === 0 || negatives === 0) return [];
  const order = Array.from({ length: labels.length }, (_, i) => i)
    .sort((a, b) => scores[b] - scores[a]);
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Infinity }];
  let tp = 0, fp = 0;
  for (let start = 0; start < order.length;) {
    const threshold = scores[order[start]];
    let end = start;
    for (; end < order.length && scores[order[end]] === threshold; end++) {
      if (labels[order[end]] === 1) tp++;
      else fp++;
    }
    points.push({ fpr: fp / negatives, tpr: tp / positives, threshold });
    start = end;
  }
  return points;
}

/** Throws unless scores and labels match in length, scores are finite and labels 0 or 1. */
function checkInputs(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): { positives: number; negatives: number } {
  if (scores.length !== labels.length) {
    throw new RangeError(
      `screening: ${scores.length} scores but ${labels.length} labels, expected one per study`,
    );
  }
  if (labels.length === 0) throw new RangeError("screening: no studies to evaluate");
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new RangeError(`screening: score ${i} is ${scores[i]}, expected a finite number`);
    }
    if (labels[i] !== 0 && labels[i] !== 1) {
      throw new RangeError(`screening: label ${i} is ${labels[i]}, expected 0 (normal) or 1`);
    }
    positives += labels[i];
  }
  return { positives, negatives: labels.length - positives };
}
