// The run report and the eval report, made from SYNTHETIC embeddings and a short training, opened
// in headless Chromium: a screenshot of each (under $CXR_SCREENSHOTS, or a temp folder), every
// <img> loaded, every chart's SVG drawn with marks, no request leaving the file.

import assert from "node:assert/strict";
import { join } from "node:path";
import { runEval } from "../src/cli/eval.ts";
import { beforeAfter, writeRunReport } from "../src/eval/run_report.ts";
import { tryGetGpu } from "../src/gpu/context.ts";
import { type Browser, browserTest } from "./util/browser.ts";
import { EVAL_CHARTS, tinyRun } from "./util/tiny_run.ts";

const FINDINGS = ["effusion", "nodule", "cardiomegaly"];

/** The DOM as the page functions below use it (they run in the browser; Deno has no DOM types). */
interface PageElement {
  id: string;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  getBoundingClientRect(): { width: number };
}
declare const document: {
  fonts: { ready: Promise<unknown> };
  images: ArrayLike<{ src: string; complete: boolean; naturalWidth: number }>;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

/** What a page showed: its charts and their drawn marks, images, requests and errors. */
interface PageCheck {
  charts: { name: string; marks: number; width: number }[];
  images: { src: string; loaded: boolean }[];
  ids: string[];
}

/** Opens `file`, takes a full-page screenshot to `shot` and reads what the page drew. */
async function openReport(browser: Browser, file: string, shot: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requests: string[] = [], errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`file://${file}`, { waitUntil: "load" });
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: shot, fullPage: true });
  const check: PageCheck = await page.evaluate(() => ({
    charts: Array.from(document.querySelectorAll("figure[data-chart]"), (f) => {
      const svg = f.querySelector("svg");
      return {
        name: f.getAttribute("data-chart") ?? "",
        // Vega draws each datum of a mark as a child of its `role-mark` group.
        marks: svg ? svg.querySelectorAll("g.role-mark > path, g.role-mark > line").length : 0,
        width: svg ? svg.getBoundingClientRect().width : 0,
      };
    }),
    images: Array.from(document.images, (i) => ({
      src: i.src.slice(0, 40),
      loaded: i.complete && i.naturalWidth > 0,
    })),
    ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id),
  }));
  await page.close();
  assert.deepEqual(errors, [], `${file}: errors in the page`);
  const outside = requests.filter((u) => u !== `file://${file}` && !u.startsWith("data:"));
  assert.deepEqual(outside, [], `${file}: requests beyond the file`);
  for (const image of check.images) assert.ok(image.loaded, `${file}: ${image.src} not loaded`);
  for (const chart of check.charts) {
    assert.ok(chart.marks > 0, `${file}: chart ${chart.name} has no marks`);
    assert.ok(chart.width > 300, `${file}: chart ${chart.name} is ${chart.width} px wide`);
  }
  assert.equal(new Set(check.ids).size, check.ids.length, `${file}: duplicate element ids`);
  return check;
}

const gpu = await tryGetGpu();
if (!gpu && Deno.env.get("CXR_REQUIRE_GPU") !== "1") {
  console.warn("skipping the report browser test: no WebGPU adapter (training needs one)");
} else {
  browserTest("run and eval reports open in Chromium with every chart drawn", async (browser) => {
    if (!gpu) throw new Error("CXR_REQUIRE_GPU=1 but no WebGPU adapter was found");
    const dir = await Deno.makeTempDir();
    const shots = Deno.env.get("CXR_SCREENSHOTS") ?? join(dir, "screenshots");
    await Deno.mkdir(shots, { recursive: true });
    try {
      const { set, embeddings, run: r, config, checkpoint } = await tinyRun(gpu, dir);
      const findings = Array.from(
        set.label,
        (l, i) => l ? (i % 5 === 0 ? FINDINGS.slice(0, 2) : [FINDINGS[i % 3]]) : [],
      );
      const ba = await beforeAfter(gpu, set, r.head, r.params, r.inputNorm, 0, "test", {
        findings,
      });
      await writeRunReport(r.logDir, ba, r.history, set, "SYNTHETIC embeddings", config);
      const run = await openReport(
        browser,
        join(r.logDir, "report.html"),
        join(shots, "run_report.png"),
      );
      const test = ba.count;
      const tsne = ["image_raw", "image_trained", "report_raw", "report_trained"];
      assert.deepEqual(run.charts.map((c) => c.name), [
        "loss",
        "validation",
        ...tsne.map((t) => `tsne_${t}`),
        ...tsne.map((t) => `tsne_${t}_findings`),
      ]);
      for (const c of run.charts.filter((c) => c.name.startsWith("tsne"))) {
        assert.equal(c.marks, test, `${c.name}: a mark per test study`);
      }
      for (const c of run.charts) await Deno.stat(join(r.logDir, `${c.name}.png`));

      const out = join(dir, "eval");
      const { report } = await runEval([
        ...["--embeddings", embeddings, "--checkpoint", checkpoint, "--out", out],
      ]);
      const evaluation = await openReport(browser, report, join(shots, "eval_report.png"));
      assert.deepEqual(evaluation.charts.map((c) => c.name), EVAL_CHARTS);
      // Two rows × seven metrics; the ROC chart draws the diagonal and one curve.
      assert.equal(evaluation.charts[0].marks, 14);
      assert.equal(evaluation.charts[2].marks, 2);
      for (const c of evaluation.charts) await Deno.stat(join(out, `${c.name}.png`));
      console.log(
        `screenshots: ${join(shots, "run_report.png")}, ${join(shots, "eval_report.png")}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
