import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
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
  history: [0, 1, 2, 3].map((e) => ({
    epoch: e,
    trainLoss: e === 0 ? undefined : 2 / e,
    val: { mean_recall: 0.1 * e },
  })),
  tsne: [{
    title: "trained head",
    points: new Float64Array([0, 0, 1, 1, 5, 5, 6, 5]),
    labels: new Int32Array([0, 0, 1, 1]),
  }],
  config: { lr: 0.001, loss: { wClip: 1 }, name: "<script>" },
  notes: ["a note"],
};

/** Throws unless every non-void tag is closed in order. */
function assertBalanced(html: string): void {
  const voids = new Set(["meta", "img", "br", "hr", "link", "input", "!doctype"]);
  const stack: string[] = [];
  const body = html.replace(/<style>[\s\S]*?<\/style>/, "<style></style>");
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
      "<code>loss.wClip</code>",
      "&#60;script&#62;",
      "a note",
    ]
  ) assert.ok(html.includes(text), `missing ${text}`);
  assert.ok(!html.includes("<script>"));
  const images = [...html.matchAll(/src="data:image\/png;base64,([A-Za-z0-9+/=]+)"/g)];
  assert.equal(images.length, 3, "loss, validation recall and one t-SNE picture");
  for (const [, b64] of images) {
    assert.deepEqual([...Buffer.from(b64, "base64").subarray(1, 4)], [0x50, 0x4e, 0x47]); // PNG
  }
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
  assert.ok(!html.includes("Training curves") && !html.includes("<img"));
  assert.throws(
    () => renderReport({ ...SAMPLE, metrics: {} }),
    /metrics must have at least one column/,
  );
});

Deno.test("writeReport writes atomically", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/report.html`;
  await writeReport(path, SAMPLE);
  assert.equal(await Deno.readTextFile(path), renderReport(SAMPLE));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["report.html"]);
  await assert.rejects(
    () => writeReport(`${dir}/missing/report.html`, SAMPLE),
    /missing\/report\.html: cannot write/,
  );
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
