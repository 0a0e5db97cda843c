import assert from "node:assert/strict";
import { renderChart } from "../src/eval/chart_render.ts";
import { lineChart, tsneChart } from "../src/eval/chart_specs.ts";
import { formatMetric, metricOrder } from "../src/eval/metric_format.ts";
import { metricsTable } from "../src/eval/metrics_table.ts";
import { renderReport, type ReportInput, writeReport } from "../src/eval/report_html.ts";

function metrics(r1: number, rank: number): Record<string, number> {
  const m: Record<string, number> = {};
  for (const d of ["text_to_image", "image_to_text"]) {
    m[`${d}_median_rank`] = Math.round(rank / 2);
    m[`${d}_mean_rank`] = rank;
    for (const k of [10, 5, 1]) m[`${d}_R@${k}`] = Math.min(1, r1 * k ** 0.5);
  }
  m.mean_recall = r1 * 2;
  return m;
}

const SAMPLE: ReportInput = {
  title: "CXR retrieval <demo>",
  subtitle: "run a&b",
  dataset: {
    name: "synthetic",
    description: "made-up pairs",
    splits: [
      { name: "train", pairs: 80, normal: 30, abnormal: 50 },
      { name: "test", pairs: 20, normal: 8, abnormal: 12 },
    ],
    facts: { "embedding size": 512 },
  },
  metrics: {
    "raw encoder (BiomedCLIP, no head)": metrics(0.0312, 40.25),
    "untrained head": metrics(0.01, 55.5),
    "trained head": metrics(0.1234, 12.75),
  },
  figures: [{
    heading: "Training curves",
    figures: [
      await renderChart(
        lineChart("loss", "Training loss", { x: "epoch", y: "loss" }, [
          { name: "train loss", x: [1, 2, 3], y: [2, 1, 0.7] },
        ], "a caption <b>"),
      ),
    ],
  }, {
    heading: "t-SNE of the embeddings",
    intro: "before & after",
    figures: [
      await renderChart(tsneChart("tsne_image_trained", {
        title: "image embeddings, trained head",
        points: new Float64Array([0, 0, 1, 1, 5, 5, 6, 5]),
        labels: new Int32Array([0, 0, 1, 1]),
      })),
    ],
  }],
  definitions: [["R@k", "share of queries < k"]],
  config: { lr: 0.001, loss: { wClip: 1 }, name: "<script>" },
  notes: ["a note"],
};

/** Throws unless every non-void tag is closed in order. */
function assertBalanced(html: string): void {
  const voids = new Set(["meta", "img", "br", "hr", "link", "input", "!doctype"]);
  const stack: string[] = [];
  const body = html.replace(/<style>[\s\S]*?<\/style>/, "<style></style>")
    .replace(/<svg[\s\S]*?<\/svg>/g, "<svg></svg>");
  for (const [, close, name] of body.matchAll(/<(\/?)([a-zA-Z!][a-zA-Z0-9]*)[^>]*>/g)) {
    const tag = name.toLowerCase();
    if (voids.has(tag)) continue;
    if (!close) stack.push(tag);
    else {
      const open = stack.pop();
      assert.equal(open, tag, `</${tag}> closes <${open}>`);
    }
  }
  assert.deepEqual(stack, [], "unclosed tags");
}

Deno.test("renderReport: every section, the table values, escaped text, balanced tags", () => {
  const html = renderReport(SAMPLE);
  assertBalanced(html);
  for (
    const text of [
      "<title>CXR retrieval &#60;demo&#62;</title>",
      "run a&#38;b",
      "raw encoder (BiomedCLIP, no head)",
      "<strong>0.1234</strong>", // trained head image_to_text_R@1, best of its row
      "0.0312",
      "<strong>12.8</strong>", // best (lowest) mean rank
      "40.3",
      "<code>image_to_text_median_rank</code>",
      "Training curves",
      "t-SNE of the embeddings",
      "<p>before &#38; after</p>",
      "a caption &#60;b&#62;",
      "<dt>R@k</dt><dd>share of queries &#60; k</dd>",
      "<code>loss.wClip</code>",
      "&#60;script&#62;",
      "a note",
      "@font-face { font-family: Inter;",
    ]
  ) assert.ok(html.includes(text), `missing ${text}`);
  assert.ok(!html.includes("<script>"));
  // The charts inline, in order, each an SVG document without its own prolog; nothing external.
  const figures = [...html.matchAll(/<figure data-chart="([^"]+)"[^>]*><svg /g)].map((m) => m[1]);
  assert.deepEqual(figures, ["loss", "tsne_image_trained"]);
  assert.ok(!/<\?xml|src="http|href="http|url\(http/.test(html));
  // Rows in open_clip order, image_to_text first.
  const rows = [...html.matchAll(/<code>((?:image|text)_to_\w+(?:@\d+)?)<\/code>/g)].map((m) =>
    m[1]
  );
  assert.deepEqual(rows.slice(0, 5), [
    "image_to_text_R@1",
    "image_to_text_R@5",
    "image_to_text_R@10",
    "image_to_text_mean_rank",
    "image_to_text_median_rank",
  ]);
});

Deno.test("renderReport: minimal input and bad input", () => {
  const html = renderReport({
    title: "t",
    dataset: { name: "d", splits: [] },
    metrics: { only: { "image_to_text_R@1": 0.5 } },
  });
  assertBalanced(html);
  assert.ok(!html.includes("Training curves") && !html.includes("<figure"));
  assert.throws(
    () => renderReport({ ...SAMPLE, metrics: {} }),
    /metrics must have at least one column/,
  );
});

Deno.test("writeReport writes the report and each chart's PNG, atomically", async () => {
  const dir = await Deno.makeTempDir();
  const paths = await writeReport(`${dir}/out`, SAMPLE);
  assert.deepEqual(
    paths,
    ["report.html", "loss.png", "tsne_image_trained.png"].map((f) => `${dir}/out/${f}`),
  );
  assert.equal(await Deno.readTextFile(paths[0]), renderReport(SAMPLE));
  assert.deepEqual(await Deno.readFile(paths[1]), SAMPLE.figures![0].figures[0].png);
  assert.deepEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(), [
    "loss.png",
    "report.html",
    "tsne_image_trained.png",
  ]);
  const twice = { ...SAMPLE, figures: [SAMPLE.figures![0], SAMPLE.figures![0]] };
  await assert.rejects(() => writeReport(dir, twice), /two figures are named loss/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("metricsTable: fixed-width text, rows in report order", () => {
  const table = metricsTable({ before: metrics(0.01, 55.5), after: metrics(0.1234, 12.75) });
  const lines = table.split("\n");
  assert.equal(lines.length, 1 + 11);
  assert.ok(lines.every((l) => l.length === lines[0].length), table);
  assert.match(lines[0], /^metric\s+before\s+after$/);
  assert.match(lines[1], /^image_to_text_R@1\s+0\.0100\s+0\.1234$/);
  assert.match(table, /text_to_image_median_rank\s+28\s+6\n/);
  assert.match(lines[11], /^mean_recall\s+0\.0200\s+0\.2468$/);
  assert.deepEqual(metricOrder([{ b: 1, "text_to_image_R@1": 1, a: 2 }]), [
    "text_to_image_R@1",
    "b",
    "a",
  ]);
  assert.equal(formatMetric("x_median_rank", 3), "3");
  assert.equal(formatMetric("x", undefined), "–");
});
