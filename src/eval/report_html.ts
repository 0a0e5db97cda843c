/**
 * The evaluation report: one self-contained HTML file (inline CSS, PNGs as base64 data URLs)
 * with the dataset summary, the before/after retrieval metrics table, the training curves, the
 * t-SNE pictures and the run configuration. (The terminal shows the same table through
 * `metricsTable`.)
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { formatMetric, lowerIsBetter, metricOrder } from "./metric_format.ts";
import { lineChartPng, scatterPng } from "./plot_png.ts";
import { REPORT_CSS } from "./report_style.ts";

/** Pairs and labels of one split. */
export interface SplitSummary {
  /** Split name, e.g. `train`. */
  name: string;
  /** Image–report pairs. */
  pairs: number;
  /** Pairs labelled normal. */
  normal: number;
  /** Pairs labelled abnormal. */
  abnormal: number;
}

/** What the data was. */
export interface DatasetSummary {
  /** Dataset name. */
  name: string;
  /** One or two sentences on where it comes from. */
  description?: string;
  /** Sizes per split. */
  splits: SplitSummary[];
  /** Further facts shown as a list, e.g. `{ "embedding size": 512 }`. */
  facts?: Record<string, string | number>;
}

/** One evaluated epoch (the trainer's `EpochResult` fits; `readResults` reads `results.jsonl`). */
export interface TrainingEpoch {
  /** Epochs finished (0 = before training). */
  epoch: number;
  /** Mean training loss of the epoch (absent at epoch 0). */
  trainLoss?: number;
  /** Validation metrics (`mean_recall`, or the `_R@k` metrics it is averaged from). */
  val: Metrics;
}

/** One t-SNE picture: 2-D points colored by class. */
export interface TsnePanel {
  /** Caption title, e.g. `raw encoder (BiomedCLIP, no head)`. */
  title: string;
  /** count×2 coordinates from `tsne`. */
  points: Float64Array;
  /** Class index of each point. */
  labels: Int32Array;
  /** Class names (default `normal`, `abnormal`). */
  classNames?: string[];
  /** A sentence under the picture. */
  caption?: string;
  /** The picture already rendered by {@link tsnePng}, if any. */
  png?: Uint8Array;
}

/** A ready picture (PNG bytes) to embed. */
export interface ReportFigure {
  /** What it shows (the image's alt text). */
  title: string;
  /** PNG bytes (drawn at about 540 pixels wide to show unscaled in the two-column grid). */
  png: Uint8Array;
  /** A sentence under the picture. */
  caption?: string;
}

/** Everything the report shows; only `title`, `dataset` and `metrics` are required. */
export interface ReportInput {
  /** Page title. */
  title: string;
  /** Line under the title, e.g. the run name. */
  subtitle?: string;
  /** When the report was made (shown as given; omitted when absent, for reproducible output). */
  generatedAt?: string;
  /** The data. */
  dataset: DatasetSummary;
  /**
   * The before/after table: column name (e.g. `trained head`) → metrics by open_clip name
   * (`image_to_text_R@1`, `text_to_image_mean_rank`, …, plus any extra metric). Columns keep
   * their order; the best value of each row is set in bold.
   */
  metrics: Record<string, Metrics>;
  /** Which split the metrics were measured on (default `test`). */
  metricsSplit?: string;
  /** Per-epoch training results (`results.jsonl`): loss and validation mean recall curves. */
  history?: TrainingEpoch[];
  /** t-SNE pictures, shown side by side (e.g. before and after training). */
  tsne?: TsnePanel[];
  /** Any other pictures. */
  figures?: ReportFigure[];
  /** Run configuration (nested objects are flattened to dotted keys). */
  config?: Record<string, unknown>;
  /** Free-form remarks, one paragraph each. */
  notes?: string[];
}

const DEFAULT_CLASSES = ["normal", "abnormal"];
/** Picture sizes that show unscaled in the two-column grid. */
const CHART_SIZE = { width: 540, height: 360 }, TSNE_SIZE = { width: 540, height: 500 };

/**
 * The report as one self-contained HTML document.
 * @example
 * ```ts
 * const html = renderReport({
 *   title: "CXR retrieval",
 *   dataset: { name: "demo", splits: [{ name: "test", pairs: 10, normal: 4, abnormal: 6 }] },
 *   metrics: { "trained head": { "image_to_text_R@1": 0.5 } },
 * });
 * ```
 */
export function renderReport(input: ReportInput): string {
  const columns = Object.keys(input.metrics);
  if (columns.length === 0) throw new Error("report: metrics must have at least one column");
  const sections = [
    datasetSection(input.dataset),
    metricsSection(input.metrics, input.metricsSplit ?? "test"),
    input.history?.length ? curvesSection(input.history) : "",
    input.tsne?.length ? tsneSection(input.tsne) : "",
    input.figures?.length ? figuresSection(input.figures) : "",
    input.config ? configSection(input.config) : "",
    input.notes?.length
      ? `<section><h2>Notes</h2>${input.notes.map((n) => `<p>${esc(n)}</p>`).join("")}</section>`
      : "",
  ].filter((s) => s !== "");
  const meta = [input.subtitle, input.generatedAt && `generated ${input.generatedAt}`]
    .filter(Boolean).map((s) => esc(s as string)).join(" · ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(input.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
<header><h1>${esc(input.title)}</h1>${meta ? `<p class="meta">${meta}</p>` : ""}</header>
${sections.join("\n")}
</main>
</body>
</html>
`;
}

/**
 * Writes {@link renderReport}'s HTML to `path` atomically, so a reader never sees half a report.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeReport(`${dir}/report.html`, {
 *   title: "CXR retrieval",
 *   dataset: { name: "demo", splits: [{ name: "test", pairs: 10, normal: 4, abnormal: 6 }] },
 *   metrics: { "trained head": { "image_to_text_R@1": 0.5 } },
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeReport(path: string, input: ReportInput): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(renderReport(input)));
}

function datasetSection(d: DatasetSummary): string {
  const total = d.splits.reduce(
    (a, s) => ({
      pairs: a.pairs + s.pairs,
      normal: a.normal + s.normal,
      abnormal: a.abnormal + s.abnormal,
    }),
    { pairs: 0, normal: 0, abnormal: 0 },
  );
  const row = (name: string, s: Omit<SplitSummary, "name">, cls = "") =>
    `<tr${cls}><th scope="row">${esc(name)}</th><td>${s.pairs}</td><td>${s.normal}</td>` +
    `<td>${s.abnormal}</td><td>${
      s.pairs ? ((100 * s.abnormal) / s.pairs).toFixed(1) : "–"
    }%</td></tr>`;
  const facts = Object.entries(d.facts ?? {})
    .map(([k, v]) => `<li><span>${esc(k)}</span> ${esc(String(v))}</li>`).join("");
  return `<section><h2>Dataset</h2>
<p><strong>${esc(d.name)}</strong>${d.description ? ` — ${esc(d.description)}` : ""}</p>
${facts ? `<ul class="facts">${facts}</ul>` : ""}
<table class="num"><thead><tr><th>split</th><th>pairs</th><th>normal</th><th>abnormal</th>` +
    `<th>abnormal share</th></tr></thead>
<tbody>${d.splits.map((s) => row(s.name, s)).join("")}` +
    `${d.splits.length > 1 ? row("all", total, ' class="total"') : ""}</tbody></table>
</section>`;
}

function metricsSection(metrics: Record<string, Metrics>, split: string): string {
  const columns = Object.keys(metrics);
  const rows = metricOrder(Object.values(metrics)).map((name) => {
    const values = columns.map((c) => metrics[c][name]);
    const finite = values.filter((v): v is number => Number.isFinite(v));
    const best = finite.length > 1
      ? (lowerIsBetter(name) ? Math.min(...finite) : Math.max(...finite))
      : NaN;
    const cells = values.map((v) => {
      const text = esc(formatMetric(name, v));
      return `<td>${v === best ? `<strong>${text}</strong>` : text}</td>`;
    });
    const dir = lowerIsBetter(name) ? "↓" : "↑";
    return `<tr><th scope="row"><code>${esc(name)}</code> <span class="dir">${dir}</span></th>${
      cells.join("")
    }</tr>`;
  });
  return `<section><h2>Retrieval metrics</h2>
<p>Paired retrieval on the <strong>${esc(split)}</strong> split (open_clip metric names; ranks
are 1-based; R@k is the share of queries whose paired item is among the top k). Best of each row
in bold; ↑ higher is better, ↓ lower is better.</p>
<table class="num metrics"><thead><tr><th>metric</th>${
    columns.map((c) => `<th>${esc(c)}</th>`).join("")
  }</tr></thead>
<tbody>${rows.join("")}</tbody></table>
</section>`;
}

function curvesSection(history: TrainingEpoch[]): string {
  const withLoss = history.filter((h) => h.trainLoss !== undefined);
  const charts: ReportFigure[] = [];
  if (withLoss.length > 0) {
    charts.push({
      title: "Training loss",
      png: lineChartPng({
        series: [{
          name: "train loss (mean of the epoch)",
          x: withLoss.map((h) => h.epoch),
          values: withLoss.map((h) => h.trainLoss!),
        }],
        xLabel: "epoch",
        yLabel: "loss",
        title: "Training loss",
        ...CHART_SIZE,
      }),
    });
  }
  charts.push({
    title: "Validation mean recall",
    caption: "Mean of R@1, R@5 and R@10 in both directions; epoch 0 is the untrained head.",
    png: lineChartPng({
      series: [{
        name: "validation mean recall",
        x: history.map((h) => h.epoch),
        values: history.map((h) => meanRecall(h.val)),
      }],
      xLabel: "epoch",
      yLabel: "mean recall",
      title: "Validation mean recall",
      ...CHART_SIZE,
    }),
  });
  return `<section><h2>Training curves</h2>${grid(charts)}</section>`;
}

/** `mean_recall` if present, else the mean of every `_R@k` metric. */
function meanRecall(m: Metrics): number {
  if (m.mean_recall !== undefined) return m.mean_recall;
  const keys = Object.keys(m).filter((k) => k.includes("_R@"));
  return keys.length ? keys.reduce((a, k) => a + m[k], 0) / keys.length : NaN;
}

/**
 * The PNG of one t-SNE panel, as the report shows it (callers that also save the picture render
 * it once and pass it back in `TsnePanel.png`).
 * @example
 * ```ts
 * const png = tsnePng({
 *   title: "trained head",
 *   points: new Float64Array([0, 0, 1, 1, 0, 1, 1, 0]), // 4 points, as tsne() returns them
 *   labels: new Int32Array([0, 0, 1, 1]), // normal, normal, abnormal, abnormal
 * });
 * ```
 */
export function tsnePng(p: TsnePanel): Uint8Array {
  return p.png ?? scatterPng({
    points: p.points,
    labels: p.labels,
    classNames: p.classNames ?? DEFAULT_CLASSES,
    title: `t-SNE: ${p.title}`,
    ...TSNE_SIZE,
  });
}

function tsneSection(panels: TsnePanel[]): string {
  const figures = panels.map((p) => ({ title: p.title, caption: p.caption, png: tsnePng(p) }));
  return `<section><h2>t-SNE of the embeddings</h2>${grid(figures)}</section>`;
}

function figuresSection(figures: ReportFigure[]): string {
  return `<section><h2>Figures</h2>${grid(figures)}</section>`;
}

function grid(figures: ReportFigure[]): string {
  return `<div class="grid">${
    figures.map((f) =>
      `<figure><img alt="${esc(f.title)}" src="data:image/png;base64,${
        Buffer.from(f.png).toString("base64")
      }">${f.caption ? `<figcaption>${esc(f.caption)}</figcaption>` : ""}</figure>`
    ).join("")
  }</div>`;
}

function configSection(config: Record<string, unknown>): string {
  const rows = flatten(config).map(([k, v]) =>
    `<tr><th scope="row"><code>${esc(k)}</code></th><td><code>${esc(v)}</code></td></tr>`
  );
  return `<section><h2>Run configuration</h2>
<table class="config"><tbody>${rows.join("")}</tbody></table></section>`;
}

/** Nested objects as dotted keys; arrays and other values as JSON. */
function flatten(value: Record<string, unknown>, prefix = ""): [string, string][] {
  return Object.entries(value).flatMap(([k, v]): [string, string][] => {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      return flatten(v as Record<string, unknown>, key);
    }
    return [[key, typeof v === "string" ? v : JSON.stringify(v) ?? String(v)]];
  });
}

/** Escapes text for HTML content and attribute values. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
