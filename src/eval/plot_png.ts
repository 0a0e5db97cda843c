/**
 * Charts for the report, rendered to PNG: a labelled scatter plot (the t-SNE pictures of
 * normal/abnormal clusters) and line charts (training curves). Colors are the Okabe–Ito
 * palette, readable with the common color-vision deficiencies.
 *
 * @module
 */

import { Raster, type Rgb } from "./raster.ts";
import { Rng } from "../util/rng.ts";

/** Okabe–Ito colors: blue, vermillion, bluish green, orange, reddish purple, sky blue, … */
export const PALETTE: readonly Rgb[] = [
  [0, 114, 178],
  [213, 94, 0],
  [0, 158, 115],
  [230, 159, 0],
  [204, 121, 167],
  [86, 180, 233],
  [120, 120, 120],
  [240, 228, 66],
];

/** Input of {@link scatterPng}. */
export interface ScatterInput {
  /** Coordinates, n×2 interleaved `[x0, y0, x1, y1, …]` (what `tsne` returns). */
  points: Float64Array;
  /** Class of each point, an index into `classNames`. */
  labels: Int32Array;
  /** Class names, in legend order (class k gets `PALETTE[k]`). */
  classNames: string[];
  /** Title above the plot. */
  title: string;
  /** Horizontal axis label (default `t-SNE 1`). */
  xLabel?: string;
  /** Vertical axis label (default `t-SNE 2`). */
  yLabel?: string;
  /** Image width in pixels (default 720). */
  width?: number;
  /** Image height in pixels (default 640). */
  height?: number;
}

/** One line of {@link lineChartPng}. */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** y values; non-finite ones leave a gap. */
  values: number[];
  /** x of each value (default 1, 2, …, e.g. epochs). */
  x?: number[];
}

/** Input of {@link lineChartPng}. */
export interface LineChartInput {
  /** The lines, colored in `PALETTE` order. */
  series: LineSeries[];
  /** Horizontal axis label. */
  xLabel: string;
  /** Vertical axis label. */
  yLabel: string;
  /** Title above the plot. */
  title: string;
  /** Image width in pixels (default 720). */
  width?: number;
  /** Image height in pixels (default 420). */
  height?: number;
}

const WHITE: Rgb = [255, 255, 255];
const AXIS: Rgb = [120, 126, 133];
const GRID: Rgb = [233, 236, 239];
const MUTED: Rgb = [90, 96, 104];
const TITLE_SIZE = 18, LABEL_SIZE = 13, TICK_SIZE = 11;

/**
 * A scatter plot of 2-D points colored by class, with title, legend (with class counts), axes,
 * ticks and grid. Points are drawn in a fixed shuffled order so no class hides another.
 * @example
 * ```ts
 * const png = scatterPng({
 *   points: new Float64Array([0, 0, 1, 1, 2, 0]),
 *   labels: new Int32Array([0, 1, 1]),
 *   classNames: ["normal", "abnormal"],
 *   title: "t-SNE of image embeddings",
 * });
 * ```
 */
export function scatterPng(input: ScatterInput): Uint8Array {
  const { points, labels, classNames, title, width = 720, height = 640 } = input;
  const n = labels.length;
  if (points.length !== 2 * n) {
    throw new Error(
      `scatterPng: points must hold 2 × labels.length = ${2 * n} values, got ${points.length}`,
    );
  }
  if (classNames.length === 0 || classNames.length > PALETTE.length) {
    throw new Error(`scatterPng: classNames must name 1 to ${PALETTE.length} classes`);
  }
  const counts = new Array(classNames.length).fill(0);
  for (let i = 0; i < n; i++) {
    if (!(labels[i] >= 0 && labels[i] < classNames.length)) {
      throw new Error(
        `scatterPng: labels[${i}] = ${labels[i]} is not a class index in [0, ${classNames.length})`,
      );
    }
    if (!Number.isFinite(points[2 * i]) || !Number.isFinite(points[2 * i + 1])) {
      throw new Error(`scatterPng: point ${i} is not finite`);
    }
    counts[labels[i]]++;
  }
  const r = new Raster(width, height, WHITE);
  header(
    r,
    title,
    classNames.map((c, k) => ({ name: `${c} (n=${counts[k]})`, color: PALETTE[k] })),
  );
  const frame = axes(r, {
    x: range(points, 0, 2, 0.03),
    y: range(points, 1, 2, 0.03),
    xLabel: input.xLabel ?? "t-SNE 1",
    yLabel: input.yLabel ?? "t-SNE 2",
    integerX: false,
    snap: false,
  });
  const radius = n <= 500 ? 3.2 : n <= 2000 ? 2.6 : 2;
  for (const i of new Rng(0).permutation(n)) {
    r.disc(frame.px(points[2 * i]), frame.py(points[2 * i + 1]), radius, PALETTE[labels[i]], 0.72);
  }
  return r.png();
}

/**
 * A line chart of one or more series against x (default 1, 2, …), with markers, title, legend,
 * axes, ticks and grid.
 * @example
 * ```ts
 * const png = lineChartPng({
 *   series: [{ name: "train loss", values: [2.1, 1.4, 1.1, 0.9] }],
 *   xLabel: "epoch",
 *   yLabel: "loss",
 *   title: "Training loss",
 * });
 * ```
 */
export function lineChartPng(input: LineChartInput): Uint8Array {
  const { series, title, width = 720, height = 420 } = input;
  if (series.length === 0 || series.length > PALETTE.length) {
    throw new Error(`lineChartPng: give 1 to ${PALETTE.length} series, got ${series.length}`);
  }
  const xs = series.map((s) => {
    const x = s.x ?? s.values.map((_, i) => i + 1);
    if (x.length !== s.values.length) {
      throw new Error(
        `lineChartPng: series "${s.name}" has ${s.values.length} values but ${x.length} x`,
      );
    }
    return x;
  });
  const allX = xs.flat(), allY = series.flatMap((s) => s.values).filter(Number.isFinite);
  if (allY.length === 0) throw new Error("lineChartPng: no finite value in any series");
  const r = new Raster(width, height, WHITE);
  header(r, title, series.map((s, k) => ({ name: s.name, color: PALETTE[k] })));
  const frame = axes(r, {
    x: range(allX, 0, 1, 0),
    y: range(allY, 0, 1, 0.05),
    xLabel: input.xLabel,
    yLabel: input.yLabel,
    integerX: allX.every(Number.isInteger),
    snap: true,
  });
  const markers = Math.max(...series.map((s) => s.values.length)) <= 60;
  series.forEach((s, k) => {
    const color = PALETTE[k];
    for (let i = 0; i < s.values.length; i++) {
      const y = s.values[i];
      if (!Number.isFinite(y)) continue;
      const px = frame.px(xs[k][i]), py = frame.py(y);
      const next = s.values[i + 1];
      if (Number.isFinite(next)) r.line(px, py, frame.px(xs[k][i + 1]), frame.py(next), 2, color);
      if (markers) r.disc(px, py, 3.2, color);
    }
  });
  return r.png();
}

/** Title (centered) and a one-row legend under it. */
function header(r: Raster, title: string, entries: { name: string; color: Rgb }[]): void {
  r.text(title, r.width / 2, 12, { size: TITLE_SIZE, bold: true, align: "center" });
  const gap = 22, swatch = 16;
  const widths = entries.map((e) => swatch + r.measure(e.name, LABEL_SIZE));
  let x = (r.width - widths.reduce((a, b) => a + b, 0) - gap * (entries.length - 1)) / 2;
  const y = 52;
  entries.forEach((e, k) => {
    r.disc(x + 5, y, 5, e.color);
    r.text(e.name, x + swatch, y, { size: LABEL_SIZE, color: MUTED, baseline: "middle" });
    x += widths[k] + gap;
  });
}

interface AxesSpec {
  x: [number, number];
  y: [number, number];
  xLabel: string;
  yLabel: string;
  integerX: boolean;
  /** Extend the axes to the outer ticks (else they span the data range, ticks inside). */
  snap: boolean;
}

/** Draws grid, frame, ticks and axis labels; returns the data → pixel mapping. */
function axes(r: Raster, spec: AxesSpec) {
  const left = 72, right = r.width - 24, top = 76, bottom = r.height - 56;
  const xt = ticks(spec.x, Math.max(2, Math.floor((right - left) / 90)), spec.integerX, spec.snap);
  const yt = ticks(spec.y, Math.max(2, Math.floor((bottom - top) / 60)), false, spec.snap);
  const [x0, x1] = spec.snap ? [xt.values[0], xt.values.at(-1)!] : spec.x;
  const [y0, y1] = spec.snap ? [yt.values[0], yt.values.at(-1)!] : spec.y;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  for (const v of xt.values) {
    r.rect(px(v), top, px(v) + 1, bottom, GRID);
    r.rect(px(v), bottom, px(v) + 1, bottom + 5, AXIS);
    r.text(format(v, xt.step), px(v), bottom + 8, {
      size: TICK_SIZE,
      color: MUTED,
      align: "center",
    });
  }
  for (const v of yt.values) {
    r.rect(left, py(v), right, py(v) + 1, GRID);
    r.rect(left - 5, py(v), left, py(v) + 1, AXIS);
    r.text(format(v, yt.step), left - 8, py(v), {
      size: TICK_SIZE,
      color: MUTED,
      align: "right",
      baseline: "middle",
    });
  }
  r.rect(left, bottom, right + 1, bottom + 1, AXIS);
  r.rect(left, top, left + 1, bottom + 1, AXIS);
  r.text(spec.xLabel, (left + right) / 2, r.height - 8, {
    size: LABEL_SIZE,
    color: MUTED,
    align: "center",
    baseline: "bottom",
  });
  r.text(spec.yLabel, 14, (top + bottom) / 2, {
    size: LABEL_SIZE,
    color: MUTED,
    align: "center",
    baseline: "middle",
    rotate: true,
  });
  return { px, py };
}

/** Min and max of every `stride`-th value from `offset`, widened by `pad` × their span. */
function range(
  values: ArrayLike<number>,
  offset: number,
  stride: number,
  pad: number,
): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = offset; i < values.length; i += stride) {
    if (!Number.isFinite(values[i])) continue;
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  if (lo === Infinity) return [0, 1];
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const wide = Math.max(Math.abs(hi) * 0.1, 1);
    return [lo - wide, hi + wide];
  }
  return [lo - pad * (hi - lo), hi + pad * (hi - lo)];
}

/**
 * Round tick positions (1, 2 or 5 × 10^k apart), about `target` gaps over [lo, hi]: from the
 * last tick at or below lo to the first at or above hi when `snap`, else those inside.
 */
function ticks([lo, hi]: [number, number], target: number, integer: boolean, snap: boolean) {
  const raw = (hi - lo) / target, mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  if (integer) step = Math.max(1, Math.round(step));
  const first = snap ? Math.floor(lo / step + 1e-9) : Math.ceil(lo / step - 1e-9);
  const last = snap ? Math.ceil(hi / step - 1e-9) : Math.floor(hi / step + 1e-9);
  const values = [];
  for (let k = first; k <= last; k++) values.push(k * step);
  return { values, step };
}

function format(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return (Math.abs(v) < step * 1e-6 ? 0 : v).toFixed(decimals);
}
