// The report charts: Vega-Lite specs drawn to SVG by vega and to PNG by resvg, with the marks,
// legend text and sizes they should have.

import assert from "node:assert/strict";
import { decode } from "fast-png";
import { chartSvg, renderChart, svgToPng } from "../src/eval/chart_render.ts";
import {
  findingGroup,
  lineChart,
  MAX_FINDING_GROUPS,
  metricBarsChart,
  rocChart,
  tsneChart,
  type TsnePanel,
} from "../src/eval/chart_specs.ts";
import { auroc, rocCurve } from "../src/metrics/screening.ts";

/** Data marks of a Vega SVG: one element per datum inside each `role-mark` group. */
function marks(svg: string, kind: string): number {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-${kind} role-mark[^"]*"[^>]*>`, "g"))];
  let count = 0;
  for (const g of groups) {
    // Items are the group's direct children up to its closing tag (marks do not nest here).
    const body = svg.slice(g.index! + g[0].length, svg.indexOf("</g>", g.index!));
    count += (body.match(/<path /g) ?? []).length;
  }
  return count;
}

/** The text of every <text> element. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

const panel: TsnePanel = {
  title: "image embeddings, trained head",
  points: Float64Array.from({ length: 24 }, (_, k) => Math.sin(k) * 10),
  labels: Int32Array.from({ length: 12 }, (_, i) => (i < 4 ? 0 : 1)),
};

Deno.test("tsneChart: a circle per point, legend with counts, findings colouring", async () => {
  const svg = await chartSvg(tsneChart("tsne", panel).spec);
  assert.equal(marks(svg, "symbol"), 12);
  const words = texts(svg);
  for (const t of ["t-SNE of the image embeddings, trained head", "normal (4)", "abnormal (8)"]) {
    assert.ok(words.includes(t), `missing "${t}" in ${words.join(" | ")}`);
  }
  const findings = [[], [], [], [], ["a"], ["a"], ["b"], ["a", "b"], ["c"], ["a"], ["b"], ["d"]];
  const byFinding = await chartSvg(tsneChart("f", { ...panel, findings }, true).spec);
  assert.equal(marks(byFinding, "symbol"), 12);
  for (const t of ["no finding (4)", "a (3)", "b (2)", "several findings (1)", "c (1)"]) {
    assert.ok(texts(byFinding).includes(t), `missing "${t}"`);
  }
  assert.throws(
    () => tsneChart("f", panel, true),
    /findings has 0 entries, expected one per point/,
  );
  assert.throws(
    () => tsneChart("f", { ...panel, points: new Float64Array(3) }),
    /3 coordinates for 12 labels, expected 24/,
  );
});

Deno.test("tsneChart: rare findings are drawn as other", async () => {
  const groups = Array.from({ length: MAX_FINDING_GROUPS + 3 }, (_, g) => `f${g}`);
  // Group g has g + 1 points, so the rarest ones fall into "other".
  const findings = groups.flatMap((g, i) => Array.from({ length: i + 1 }, () => [g]));
  const count = findings.length;
  const many = {
    ...panel,
    points: Float64Array.from({ length: 2 * count }, (_, k) => k),
    labels: new Int32Array(count).fill(1),
    findings,
  };
  const words = texts(await chartSvg(tsneChart("f", many, true).spec));
  assert.ok(words.includes("other (6)"), words.join(" | ")); // f0, f1, f2: 1 + 2 + 3
  assert.ok(
    !words.includes("f0 (1)") && words.includes(`f${groups.length - 1} (${groups.length})`),
  );
  assert.equal(findingGroup(["x", "y"]), "several findings");
});

Deno.test("rocChart: the curve and the chance line, AUROC in the legend", async () => {
  const scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1], labels = [1, 1, 0, 1, 0, 1, 0, 0];
  const curve = { name: "demo", points: rocCurve(scores, labels), auroc: auroc(scores, labels) };
  const svg = await chartSvg(rocChart("roc", "Screening ROC", [curve]).spec);
  assert.equal(marks(svg, "line"), 2);
  assert.ok(texts(svg).includes("demo (AUROC 0.8125)"), texts(svg).join(" | "));
});

Deno.test("metricBarsChart: a bar per model and metric, none for a missing value", async () => {
  const svg = await chartSvg(
    metricBarsChart("bars", "Image → report retrieval", [
      { name: "no head", values: [["R@1", 0.1], ["P@10", 0.5]] },
      { name: "demo", values: [["R@1", 0.3], ["P@10", NaN]] },
    ]).spec,
  );
  assert.equal(marks(svg, "rect"), 3);
  for (const t of ["R@1", "P@10", "no head", "demo"]) assert.ok(texts(svg).includes(t), t);
});

Deno.test("lineChart and renderChart: the PNG is the SVG at twice its size", async () => {
  const chart = await renderChart(
    lineChart("curves", "Validation", { x: "epoch", y: "value" }, [
      { name: "mean recall", x: [0, 1, 2], y: [0.1, 0.2, 0.3] },
      { name: "label P@10", x: [0, 1, 2], y: [0.5, NaN, 0.7] },
    ]),
  );
  assert.equal(marks(chart.svg, "line"), 2);
  assert.equal(marks(chart.svg, "symbol"), 5, "a point per finite value");
  const [, width, height] = chart.svg.match(/<svg[^>]* width="(\d+)" height="(\d+)"/)!.map(Number);
  const png = decode(chart.png);
  assert.deepEqual([png.width, png.height], [2 * width, 2 * height]);
  // The text is drawn: the title row holds dark pixels.
  const dark = Array.from({ length: png.width }, (_, x) => x).filter((x) => {
    const y = 2 * 20, i = (y * png.width + x) * png.channels;
    return png.data[i] < 100;
  });
  assert.ok(dark.length > 10, "title text drawn");
  const small = decode(await svgToPng(chart.svg, 1));
  assert.deepEqual([small.width, small.height], [width, height]);
});
