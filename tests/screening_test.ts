// Screening metrics on hand-computed cases: perfect, inverted, ties, one class missing.

import assert from "node:assert/strict";
import { auroc, rocCurve, screeningMetrics } from "../src/metrics/screening.ts";
import { Rng } from "./util/check.ts";

/** The ROC curve's points as [fpr, tpr] pairs. */
const xy = (scores: number[], labels: number[]) =>
  rocCurve(scores, labels).map((p) => [p.fpr, p.tpr]);

Deno.test("screening: a perfect classifier", () => {
  const m = screeningMetrics([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]);
  assert.deepEqual(m, {
    accuracy: 1,
    sensitivity: 1,
    specificity: 1,
    auroc: 1,
    threshold: 0.5,
    positives: 2,
    negatives: 2,
  });
  assert.deepEqual(xy([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), [
    [0, 0],
    [0, 0.5],
    [0, 1],
    [0.5, 1],
    [1, 1],
  ]);
});

Deno.test("screening: an inverted classifier scores 0 everywhere", () => {
  const m = screeningMetrics([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]);
  assert.deepEqual([m.accuracy, m.sensitivity, m.specificity, m.auroc], [0, 0, 0, 0]);
  assert.deepEqual(xy([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]), [
    [0, 0],
    [0.5, 0],
    [1, 0],
    [1, 0.5],
    [1, 1],
  ]);
});

Deno.test("screening: all scores tied give AUROC 0.5 and one diagonal ROC step", () => {
  const labels = [1, 0, 0, 1, 0];
  const m = screeningMetrics([0.5, 0.5, 0.5, 0.5, 0.5], labels);
  // 0.5 >= threshold 0.5: every study is called abnormal.
  assert.deepEqual([m.accuracy, m.sensitivity, m.specificity, m.auroc], [0.4, 1, 0, 0.5]);
  assert.deepEqual(rocCurve([0.5, 0.5, 0.5, 0.5, 0.5], labels), [
    { fpr: 0, tpr: 0, threshold: Infinity },
    { fpr: 1, tpr: 1, threshold: 0.5 },
  ]);
});

Deno.test("screening: ties between classes count one half (Mann-Whitney averaged ranks)", () => {
  // Pairs (abnormal, normal): 0.3 vs 0.3, 0.7, 0.1 → ½ + 0 + 1; 0.7 vs them → 1 + ½ + 1. 4 of 6.
  const scores = [0.3, 0.3, 0.7, 0.7, 0.1], labels = [1, 0, 1, 0, 0];
  assert.equal(auroc(scores, labels), 4 / 6);
  assert.deepEqual(xy(scores, labels), [[0, 0], [1 / 3, 0.5], [2 / 3, 1], [1, 1]]);
  const m = screeningMetrics(scores, labels, { threshold: 0.3 });
  assert.deepEqual([m.accuracy, m.sensitivity, m.specificity], [0.6, 1, 1 / 3]);
});

Deno.test("screening: the ROC curve's trapezoid area equals the AUROC, ties included", () => {
  const rng = new Rng(5);
  const labels = Array.from({ length: 200 }, () => (rng.uniform() < 0.4 ? 1 : 0));
  // Scores on a coarse grid so that many tie, shifted up for abnormal studies.
  const scores = labels.map((l) => Math.round((rng.uniform() + 0.4 * l) * 10) / 10);
  const curve = rocCurve(scores, labels);
  let area = 0;
  for (let i = 1; i < curve.length; i++) {
    area += (curve[i].fpr - curve[i - 1].fpr) * (curve[i].tpr + curve[i - 1].tpr) / 2;
  }
  const a = auroc(scores, labels);
  assert.ok(Math.abs(area - a) < 1e-12, `trapezoid ${area}, Mann-Whitney ${a}`);
  assert.ok(a > 0.6 && a < 1, `AUROC ${a}`);
  assert.deepEqual(curve.at(-1), { fpr: 1, tpr: 1, threshold: Math.min(...scores) });
});

Deno.test("screening: a missing class gives NaN for what needs it and no ROC curve", () => {
  const normals = screeningMetrics([0.2, 0.7], [0, 0]);
  assert.deepEqual([normals.accuracy, normals.specificity], [0.5, 0.5]);
  assert.ok(Number.isNaN(normals.sensitivity) && Number.isNaN(normals.auroc));
  const abnormals = screeningMetrics([0.2, 0.7], [1, 1]);
  assert.equal(abnormals.sensitivity, 0.5);
  assert.ok(Number.isNaN(abnormals.specificity) && Number.isNaN(abnormals.auroc));
  assert.deepEqual(rocCurve([0.2, 0.7], [1, 1]), []);
});

Deno.test("screening: bad inputs are refused with what was expected", () => {
  assert.throws(() => auroc([0.1], [0, 1]), /1 scores but 2 labels/);
  assert.throws(() => auroc([], []), /no studies/);
  assert.throws(() => rocCurve([0.1, NaN], [0, 1]), /score 1 is NaN, expected a finite number/);
  assert.throws(() => screeningMetrics([0.1, 0.2], [0, 2]), /label 1 is 2, expected 0/);
  assert.throws(() => screeningMetrics([0.1], [0], { threshold: NaN }), /threshold/);
});
