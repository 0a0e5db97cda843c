/**
 * The reports' charts as Vega-Lite specs ({@link Chart}s that `chart_render.ts` draws): t-SNE
 * scatter plots coloured normal/abnormal or by finding, ROC curves with their AUROC in the legend,
 * grouped metric bars (a bar per model) and line charts of the training curves. Colours are the
 * Okabe–Ito palette, readable with the common colour-vision deficiencies.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { RocPoint } from "../metrics/screening.ts";
import type { Chart } from "./chart_render.ts";

/**
 * Okabe–Ito colours: blue, vermillion, bluish green, orange, reddish purple, sky blue, a dark
 * grey for its black, and its yellow last (faint on white).
 */
export const PALETTE = [
  "#0072b2",
  "#d55e00",
  "#009e73",
  "#e69f00",
  "#cc79a7",
  "#56b4e9",
  "#3d3d3d",
  "#f0e442",
] as const;
/** Colour of the "other" group and of reference lines. */
const GREY = "#9aa0a6";
/** The most finding groups a t-SNE picture colours; rarer ones are drawn as `other`. */
export const MAX_FINDING_GROUPS = PALETTE.length - 1;

/** One t-SNE picture: 2-D points coloured by class. */
export interface TsnePanel {
  /** What was embedded, e.g. `image embeddings, trained head`. */
  title: string;
  /** count×2 coordinates from `tsne`, interleaved `[x0, y0, x1, y1, …]`. */
  points: Float64Array;
  /** Class index of each point (0 normal, 1 abnormal). */
  labels: Int32Array;
  /** Class names (default `normal`, `abnormal`). */
  classNames?: string[];
  /** Each point's findings, where the data has them: the picture is then coloured by finding. */
  findings?: string[][];
  /** A sentence under the picture. */
  caption?: string;
}

/** One ROC curve. */
export interface RocSeries {
  /** The model, e.g. the run's name. */
  name: string;
  /** The curve, from (0, 0) to (1, 1) (`rocCurve`). */
  points: Pick<RocPoint, "fpr" | "tpr">[];
  /** Its area (shown in the legend). */
  auroc: number;
}

/** One line of a {@link lineChart}. */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** x of each value (e.g. epochs). */
  x: number[];
  /** y values; non-finite ones are left out. */
  y: number[];
}

/** One model's bars in a {@link metricBarsChart}. */
export interface BarGroup {
  /** The model (legend name). */
  name: string;
  /** Metric label → value, in axis order; non-finite values get no bar. */
  values: [string, number][];
}

const NO_AXIS = { labels: false, ticks: false, grid: false, domain: false };
/** t-SNE's axes: the data's range, padded so no point is cut by the frame. */
const POINT_SCALE = { zero: false, nice: false, padding: 10 };

/**
 * A point's group when coloured by finding: `no finding`, its one finding, or `several findings`.
 * @example
 * ```ts
 * findingGroup([]); // "no finding"
 * findingGroup(["effusion"]); // "effusion"
 * findingGroup(["effusion", "nodule"]); // "several findings"
 * ```
 */
export function findingGroup(findings: readonly string[]): string {
  return findings.length === 0
    ? "no finding"
    : findings.length === 1
    ? findings[0]
    : "several findings";
}

/** Each point's group and the legend's order: the most frequent groups, then `other`. */
function groupsOf(panel: TsnePanel, byFinding: boolean): { group: string[]; domain: string[] } {
  const count = panel.labels.length;
  if (!byFinding) {
    const names = panel.classNames ?? ["normal", "abnormal"];
    return { group: Array.from(panel.labels, (l) => names[l] ?? `class ${l}`), domain: names };
  }
  if (panel.findings?.length !== count) {
    throw new Error(
      `t-SNE "${panel.title}": findings has ${panel.findings?.length ?? 0} entries, expected one ` +
        `per point (${count})`,
    );
  }
  const raw = panel.findings.map(findingGroup);
  const counts = new Map<string, number>();
  for (const g of raw) counts.set(g, (counts.get(g) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([g]) => g);
  const kept = ranked.length <= MAX_FINDING_GROUPS + 1
    ? ranked
    : ranked.slice(0, MAX_FINDING_GROUPS);
  const keep = new Set(kept);
  const group = raw.map((g) => keep.has(g) ? g : "other");
  return { group, domain: kept.length < ranked.length ? [...kept, "other"] : kept };
}

/**
 * A t-SNE scatter plot, coloured normal/abnormal or, with `byFinding` (the panel must carry
 * `findings`), by finding. Legend entries show their counts; the axes carry no scale (t-SNE
 * distances have no units).
 * @example
 * ```ts
 * const chart = tsneChart("tsne_image", {
 *   title: "image embeddings, trained head",
 *   points: new Float64Array([0, 0, 1, 1, 5, 5, 6, 5]),
 *   labels: new Int32Array([0, 0, 1, 1]),
 * });
 * chart.title; // "t-SNE of the image embeddings, trained head"
 * ```
 */
export function tsneChart(name: string, panel: TsnePanel, byFinding = false): Chart {
  const count = panel.labels.length;
  if (panel.points.length !== 2 * count) {
    throw new Error(
      `t-SNE "${panel.title}": ${panel.points.length} coordinates for ${count} labels, ` +
        `expected ${2 * count}`,
    );
  }
  const { group, domain } = groupsOf(panel, byFinding);
  const tally = new Map(domain.map((g) => [g, 0]));
  for (const g of group) tally.set(g, tally.get(g)! + 1);
  const legend = (g: string) => `${g} (${tally.get(g)})`;
  const values = group.map((g, i) => ({
    x: panel.points[2 * i],
    y: panel.points[2 * i + 1],
    group: legend(g),
  }));
  const colors = domain.map((g, i) => g === "other" ? GREY : PALETTE[i % PALETTE.length]);
  const size = count <= 300 ? 42 : count <= 1500 ? 22 : 12;
  const title = `t-SNE of the ${panel.title}`;
  const spec: TopLevelSpec = {
    title: { text: title, subtitle: byFinding ? "coloured by finding" : "normal vs abnormal" },
    width: 380,
    height: 380,
    data: { values },
    mark: { type: "circle", size, opacity: 0.75 },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        title: "t-SNE 1",
        axis: NO_AXIS,
        scale: POINT_SCALE,
      },
      y: {
        field: "y",
        type: "quantitative",
        title: "t-SNE 2",
        axis: NO_AXIS,
        scale: POINT_SCALE,
      },
      color: {
        field: "group",
        type: "nominal",
        title: byFinding ? "finding" : "label",
        scale: { domain: domain.map(legend), range: colors },
        legend: { orient: "bottom", direction: "horizontal", columns: 2 },
      },
    },
  };
  return { name, title, caption: panel.caption, spec };
}

/**
 * ROC curves on one chart, each named with its AUROC, over the chance diagonal.
 * @example
 * ```ts
 * const chart = rocChart("roc_image", "Screening ROC, image embeddings", [{
 *   name: "demo",
 *   auroc: 0.75,
 *   points: [{ fpr: 0, tpr: 0 }, { fpr: 0.5, tpr: 1 }, { fpr: 1, tpr: 1 }],
 * }]);
 * ```
 */
export function rocChart(
  name: string,
  title: string,
  curves: RocSeries[],
  caption?: string,
): Chart {
  const label = (c: RocSeries) => `${c.name} (AUROC ${c.auroc.toFixed(4)})`;
  const values = curves.flatMap((c) =>
    c.points.map((p, i) => ({ fpr: p.fpr, tpr: p.tpr, i, curve: label(c) }))
  );
  const unit = { domain: [0, 1], nice: false };
  const spec: TopLevelSpec = {
    title,
    width: 360,
    height: 360,
    layer: [
      {
        data: { values: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }] },
        mark: { type: "line", color: GREY, strokeDash: [5, 4], strokeWidth: 1.5 },
        encoding: {
          x: { field: "fpr", type: "quantitative" },
          y: { field: "tpr", type: "quantitative" },
        },
      },
      {
        data: { values },
        mark: { type: "line", strokeWidth: 2.5 },
        encoding: {
          x: {
            field: "fpr",
            type: "quantitative",
            title: "false-positive rate (1 − specificity)",
            scale: unit,
          },
          y: {
            field: "tpr",
            type: "quantitative",
            title: "true-positive rate (sensitivity)",
            scale: unit,
          },
          order: { field: "i", type: "quantitative" },
          color: {
            field: "curve",
            type: "nominal",
            title: null,
            scale: { domain: curves.map(label), range: [...PALETTE] },
            legend: { orient: "bottom-right", fillColor: "white", padding: 6 },
          },
        },
      },
    ],
  };
  return { name, title, caption, spec };
}

/**
 * Grouped bars: a group per metric, a bar per model, values on a 0–1 axis.
 * @example
 * ```ts
 * const chart = metricBarsChart("bars_image_to_text", "Image → report retrieval", [
 *   { name: "no head", values: [["R@10", 0.06], ["P@10", 0.49]] },
 *   { name: "demo", values: [["R@10", 0.11], ["P@10", 0.70]] },
 * ]);
 * ```
 */
export function metricBarsChart(
  name: string,
  title: string,
  groups: BarGroup[],
  caption?: string,
): Chart {
  const metrics = [...new Set(groups.flatMap((g) => g.values.map(([m]) => m)))];
  const values = groups.flatMap((g) =>
    g.values.filter(([, v]) => Number.isFinite(v)).map(([metric, value]) => ({
      metric,
      value,
      model: g.name,
    }))
  );
  const spec: TopLevelSpec = {
    title,
    width: 460,
    height: 300,
    data: { values },
    mark: { type: "bar", cornerRadiusEnd: 2 },
    encoding: {
      x: {
        field: "metric",
        type: "nominal",
        sort: metrics,
        title: null,
        axis: { labelAngle: 0, labelFontSize: 12 },
        scale: { paddingInner: 0.25 },
      },
      xOffset: { field: "model", type: "nominal", sort: groups.map((g) => g.name) },
      y: { field: "value", type: "quantitative", scale: { domain: [0, 1] }, title: "value" },
      color: {
        field: "model",
        type: "nominal",
        title: null,
        scale: { domain: groups.map((g) => g.name), range: [...PALETTE] },
        legend: { orient: "bottom", direction: "vertical" },
      },
    },
  };
  return { name, title, caption, spec };
}

/**
 * A line chart with a point per value, a colour per series (legend below when more than one).
 * @example
 * ```ts
 * const chart = lineChart("loss", "Training loss", { x: "epoch", y: "loss" }, [
 *   { name: "train loss", x: [1, 2, 3], y: [2.1, 1.4, 1.2] },
 * ]);
 * ```
 */
export function lineChart(
  name: string,
  title: string,
  axes: { x: string; y: string },
  series: LineSeries[],
  caption?: string,
): Chart {
  const values = series.flatMap((s) =>
    s.x.map((x, i) => ({ x, y: s.y[i], series: s.name })).filter((v) => Number.isFinite(v.y))
  );
  const spec: TopLevelSpec = {
    title,
    width: 420,
    height: 280,
    data: { values },
    mark: { type: "line", point: { size: 36 }, strokeWidth: 2 },
    encoding: {
      x: { field: "x", type: "quantitative", title: axes.x, axis: { tickMinStep: 1, format: "d" } },
      y: { field: "y", type: "quantitative", title: axes.y, scale: { zero: false } },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: series.map((s) => s.name), range: [...PALETTE] },
        legend: series.length > 1 ? { orient: "bottom", direction: "vertical" } : null,
      },
    },
  };
  return { name, title, caption, spec };
}
