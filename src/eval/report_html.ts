/**
 * The HTML reports of a run and of an evaluation: one self-contained file (inline CSS and fonts,
 * the charts as inline SVG, no external request) with the dataset summary, the metrics table
 * (a column per model), sections of charts, definitions, the run configuration and notes; the
 * charts' PNG copies are written beside it. (The terminal shows the table through `metricsTable`.)
 *
 * @module
 */

import { join } from "node:path";
import { type EmbeddingSet, splitRows } from "../io/embeddings.ts";
import type { Metrics } from "../metrics/retrieval_metrics.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { RenderedChart } from "./chart_render.ts";
import { formatMetric, lowerIsBetter, metricOrder } from "./metric_format.ts";
import { reportCss } from "./report_style.ts";

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

/**
 * Pairs and labels of each split of an embeddings set (train, validation, test).
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * const o = { count: 40, dim: 4, latent: 2, noise: 0.1, validation: 0.25, test: 0.25, seed: 1 };
 * splitSummaries(syntheticEmbeddings(o)).map((s) => s.name); // ["train", "validation", "test"]
 * ```
 */
export function splitSummaries(set: EmbeddingSet): SplitSummary[] {
  return (["train", "validation", "test"] as const).map((name) => {
    const rows = splitRows(set, name);
    const abnormal = rows.reduce((a, r) => a + set.label[r], 0);
    return { name, pairs: rows.length, normal: rows.length - abnormal, abnormal };
  });
}

/** A group of pictures under one heading. */
export interface FigureSection {
  /** The section's heading, e.g. `t-SNE of the embeddings`. */
  heading: string;
  /** A paragraph above the pictures. */
  intro?: string;
  /** The charts, drawn (`renderChart`). */
  figures: RenderedChart[];
}

/** Everything a report shows; only `title` and `metrics` are required. */
export interface ReportInput {
  /** Page title. */
  title: string;
  /** Line under the title, e.g. the run name. */
  subtitle?: string;
  /** When the report was made (shown as given; omitted when absent, for reproducible output). */
  generatedAt?: string;
  /** The data. */
  dataset?: DatasetSummary;
  /**
   * The metrics table: column name (a model, e.g. `trained head`) → metrics by open_clip name
   * (`image_to_text_R@1`, `text_to_image_mean_rank`, …, plus any extra metric). Columns keep
   * their order; the best value of each row is set in bold.
   */
  metrics: Record<string, Metrics>;
  /** Which split the metrics were measured on (default `test`). */
  metricsSplit?: string;
  /** A paragraph above the table instead of the default one on paired retrieval. */
  metricsIntro?: string;
  /** Charts, a section each, inlined as SVG (the PNG copies are written beside the report). */
  figures?: FigureSection[];
  /** Definitions of the terms and metrics shown: term → definition. */
  definitions?: [string, string][];
  /** Run configuration (nested objects are flattened to dotted keys). */
  config?: Record<string, unknown>;
  /** The configuration section's heading (default `Run configuration`). */
  configHeading?: string;
  /** Free-form remarks, one paragraph each. */
  notes?: string[];
}

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
    input.dataset ? datasetSection(input.dataset) : "",
    metricsSection(input.metrics, input.metricsSplit ?? "test", input.metricsIntro),
    ...(input.figures ?? []).map(figureSection),
    input.definitions?.length ? definitionsSection(input.definitions) : "",
    input.config ? configSection(input.config, input.configHeading ?? "Run configuration") : "",
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
<style>${reportCss()}</style>
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
 * Writes `dir/report.html` ({@link renderReport}) and each figure's PNG copy as
 * `dir/<name>.png`, all atomically (creating `dir`); returns the paths written, the report first.
 * @example
 * ```ts
 * import { renderChart } from "./chart_render.ts";
 * import { lineChart } from "./chart_specs.ts";
 * const dir = await Deno.makeTempDir();
 * const loss = await renderChart(
 *   lineChart("loss", "Training loss", { x: "epoch", y: "loss" }, [
 *     { name: "train loss", x: [1, 2], y: [2, 1] },
 *   ]),
 * );
 * const paths = await writeReport(dir, {
 *   title: "CXR retrieval",
 *   metrics: { "trained head": { "image_to_text_R@1": 0.5 } },
 *   figures: [{ heading: "Training curves", figures: [loss] }],
 * }); // [`${dir}/report.html`, `${dir}/loss.png`]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeReport(dir: string, input: ReportInput): Promise<string[]> {
  const figures = (input.figures ?? []).flatMap((s) => s.figures);
  const names = new Set<string>();
  for (const f of figures) {
    if (names.has(f.name)) throw new Error(`report: two figures are named ${f.name}`);
    names.add(f.name);
  }
  await Deno.mkdir(dir, { recursive: true });
  const html = join(dir, "report.html");
  await writeFileAtomic(html, new TextEncoder().encode(renderReport(input)));
  const paths = [html];
  for (const f of figures) {
    const path = join(dir, `${f.name}.png`);
    await writeFileAtomic(path, f.png);
    paths.push(path);
  }
  return paths;
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

function metricsSection(metrics: Record<string, Metrics>, split: string, intro?: string): string {
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
  const text = intro
    ? esc(intro)
    : `Paired retrieval on the <strong>${esc(split)}</strong> split ` +
      "(open_clip metric names; ranks are 1-based; R@k is the share of queries whose paired item " +
      "is among the top k).";
  return `<section><h2>Metrics</h2>
<p>${text} Best of each row in bold; ↑ higher is better, ↓ lower is better.</p>
<table class="num metrics"><thead><tr><th>metric</th>${
    columns.map((c) => `<th>${esc(c)}</th>`).join("")
  }</tr></thead>
<tbody>${rows.join("")}</tbody></table>
</section>`;
}

function figureSection(section: FigureSection): string {
  const figures = section.figures.map((f) =>
    `<figure data-chart="${esc(f.name)}" aria-label="${esc(f.title)}">${inlineSvg(f.svg)}${
      f.caption ? `<figcaption>${esc(f.caption)}</figcaption>` : ""
    }</figure>`
  );
  return `<section><h2>${esc(section.heading)}</h2>${
    section.intro ? `<p>${esc(section.intro)}</p>` : ""
  }<div class="grid">${figures.join("")}</div></section>`;
}

/** Vega's SVG document as inline markup: without an XML prolog, scaled by the page's CSS. */
function inlineSvg(svg: string): string {
  const start = svg.indexOf("<svg");
  if (start < 0) throw new Error("report: a figure's svg has no <svg> element");
  return svg.slice(start);
}

function definitionsSection(definitions: [string, string][]): string {
  const items = definitions.map(([term, text]) => `<dt>${esc(term)}</dt><dd>${esc(text)}</dd>`);
  return `<section><h2>Definitions</h2><dl class="definitions">${items.join("")}</dl></section>`;
}

function configSection(config: Record<string, unknown>, heading: string): string {
  const rows = flatten(config).map(([k, v]) =>
    `<tr><th scope="row"><code>${esc(k)}</code></th><td><code>${esc(v)}</code></td></tr>`
  );
  return `<section><h2>${esc(heading)}</h2>
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
