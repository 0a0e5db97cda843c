import assert from "node:assert/strict";
import { decodePng } from "image-js";
import { lineChartPng, PALETTE, scatterPng } from "../src/eval/plot_png.ts";
import type { Rgb } from "../src/eval/raster.ts";

type Region = { x0: number; x1: number; y0: number; y1: number };

/**
 * Count of pixels in a region that are `color` blended over white with opacity >= `minAlpha`
 * (points are drawn translucent), within `tol` per channel.
 */
function countColor(png: Uint8Array, color: Rgb, region: Region, minAlpha = 0.5, tol = 12): number {
  const img = decodePng(png);
  const w = color.map((c) => 255 - c), ww = w.reduce((a, v) => a + v * v, 0);
  let n = 0;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const d = [0, 1, 2].map((c) => 255 - img.getValue(x, y, c));
      const a = d.reduce((s, v, c) => s + v * w[c], 0) / ww;
      if (a >= minAlpha && d.every((v, c) => Math.abs(v - a * w[c]) <= tol)) n++;
    }
  }
  return n;
}

Deno.test("scatterPng draws each class in its color where its points are, with a title", () => {
  // Class 0 on the left, class 1 on the right.
  const n = 200;
  const points = new Float64Array(2 * n), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    points[2 * i] = (labels[i] === 0 ? -10 : 10) + Math.sin(i);
    points[2 * i + 1] = Math.cos(i * 1.7) * 5;
  }
  const png = scatterPng({
    points,
    labels,
    classNames: ["normal", "abnormal"],
    title: "t-SNE test",
    width: 600,
    height: 500,
  });
  const img = decodePng(png);
  assert.deepEqual([img.width, img.height, img.channels], [600, 500, 3]);
  const left = { x0: 70, x1: 300, y0: 80, y1: 440 }, right = { x0: 300, x1: 600, y0: 80, y1: 440 };
  assert.ok(countColor(png, PALETTE[0], left) > 300, "normal points on the left");
  assert.equal(countColor(png, PALETTE[0], right), 0, "no normal points on the right");
  assert.ok(countColor(png, PALETTE[1], right) > 300, "abnormal points on the right");
  assert.equal(countColor(png, PALETTE[1], left), 0, "no abnormal points on the left");
  const ink = countColor(png, [33, 37, 41], { x0: 0, x1: 600, y0: 0, y1: 40 }, 0.8);
  assert.ok(ink > 100, `title text drawn (${ink} dark pixels)`);
  assert.ok(countColor(png, PALETTE[1], { x0: 0, x1: 600, y0: 40, y1: 64 }) > 20, "legend");
});

Deno.test("lineChartPng draws every series (a NaN leaves a gap)", () => {
  const png = lineChartPng({
    series: [
      { name: "train loss", values: [3, 2, 1.5, NaN, 1.1] },
      { name: "val loss", values: [3.2, 2.4, 2, 1.9, 1.8], x: [1, 2, 3, 4, 5] },
    ],
    xLabel: "epoch",
    yLabel: "loss",
    title: "Loss",
  });
  const img = decodePng(png);
  assert.deepEqual([img.width, img.height], [720, 420]);
  const plot = { x0: 72, x1: 700, y0: 76, y1: 364 };
  assert.ok(countColor(png, PALETTE[0], plot) > 200);
  assert.ok(countColor(png, PALETTE[1], plot) > 200);
});

Deno.test("charts reject bad input with clear errors", () => {
  const base = { classNames: ["normal", "abnormal"], title: "t" };
  assert.throws(
    () => scatterPng({ ...base, points: new Float64Array(3), labels: new Int32Array(2) }),
    /points must hold 2 × labels.length = 4 values, got 3/,
  );
  assert.throws(
    () => scatterPng({ ...base, points: new Float64Array(2), labels: new Int32Array([2]) }),
    /labels\[0\] = 2 is not a class index in \[0, 2\)/,
  );
  assert.throws(
    () => scatterPng({ ...base, points: new Float64Array([0, NaN]), labels: new Int32Array(1) }),
    /point 0 is not finite/,
  );
  const chart = { xLabel: "x", yLabel: "y", title: "t" };
  assert.throws(
    () => lineChartPng({ ...chart, series: [{ name: "a", values: [1, 2], x: [1] }] }),
    /series "a" has 2 values but 1 x/,
  );
  assert.throws(() => lineChartPng({ ...chart, series: [] }), /give 1 to 8 series, got 0/);
  assert.throws(
    () => lineChartPng({ ...chart, series: [{ name: "a", values: [NaN] }] }),
    /no finite value/,
  );
});
