import assert from "node:assert/strict";
import { labelPrecision, rankMetrics } from "../src/metrics/retrieval_metrics.ts";

Deno.test("rankMetrics: open_clip's names, 1-based mean and median ranks, R@k", () => {
  const m = rankMetrics(new Uint32Array([0, 3, 20, 4]), "image_to_text");
  assert.equal(m["image_to_text_mean_rank"], (1 + 4 + 21 + 5) / 4);
  assert.equal(m["image_to_text_median_rank"], 4); // floor(median(0, 3, 4, 20) = 3.5) + 1
  assert.equal(rankMetrics(new Uint32Array([0, 3, 10, 20]), "x")["x_median_rank"], 7);
  assert.equal(rankMetrics(new Uint32Array([5, 0, 9]), "x")["x_median_rank"], 6);
  assert.equal(m["image_to_text_R@1"], 0.25);
  assert.equal(m["image_to_text_R@5"], 0.75);
  assert.equal(m["image_to_text_R@10"], 0.75);
  assert.throws(() => rankMetrics(new Uint32Array(), "x"), /no queries/);
});

Deno.test("labelPrecision: share of the top k with the query's label", () => {
  // 10 items, labels alternate; query q's top-10 list is q, q+1, …: half share its label.
  const n = 10, k = 10;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const top = Uint32Array.from({ length: n * k }, (_, i) => (Math.floor(i / k) + (i % k)) % n);
  const m = labelPrecision(top, k, labels, "text_to_image");
  assert.equal(m["text_to_image_label_P@10"], 0.5);
  assert.ok(Math.abs(m["text_to_image_label_P@5"] - 3 / 5) < 1e-12); // q, q+2, q+4 of q..q+4
  assert.deepEqual(Object.keys(labelPrecision(top.subarray(0, 4 * n), 4, labels, "x")), []);
});
