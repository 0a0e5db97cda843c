// The web app in headless Chromium on the small trained demo: an X-ray chosen and one dropped give
// the ranked reports the module gives, a pasted report gives the images (each loaded), a text
// file named .png gets the page's error; screenshots of each (under $CXR_SCREENSHOTS, or a temp
// folder); no request leaves the server, and the page logs no error but the refused upload's.
// Without WebGPU in the browser the page searches on the server. With it (SwiftShader, behind
// --enable-unsafe-webgpu) the private mode is on by default: the same searches run in the page,
// give the module's top 10 (scores within SCORE_TOLERANCE), and no request carries the query.

import assert from "node:assert/strict";
import { join } from "node:path";
import { tryGetGpu } from "../src/gpu/context.ts";
import type { DemoCollection } from "../src/retrieval/demo_collection.ts";
import { type CollectionSearch, openSearch, type SearchResult } from "../src/retrieval/search.ts";
import { serveSearch } from "../src/serve/server.ts";
import { browserTest, type Page } from "./util/browser.ts";
import { demoFixture } from "./util/demo_fixture.ts";

/** The ranked list the page shows: ids, the score and label texts, and what each row says. */
async function shownHits(page: Page, row: string) {
  const texts = (selector: string) => page.locator(`${row} ${selector}`).allTextContents();
  return {
    ranks: await texts(".rank"),
    ids: await texts(".id"),
    scores: await texts(".score"),
    labels: await texts(".label"),
    reports: await texts(".report"),
  };
}

/** What the page should show for `result`. */
function expected(result: SearchResult) {
  return {
    ranks: result.hits.map((h) => `#${h.rank}`),
    ids: result.hits.map((h) => h.id),
    scores: result.hits.map((h) => `score ${h.score.toFixed(4)}`),
    labels: result.hits.map((h) => h.label),
    reports: result.query === "image" ? result.hits.map((h) => h.report ?? "") : [],
  };
}

/**
 * Largest difference between a score (or estimate) in the page and the module's: the same kernels
 * and towers, but another WebGPU (SwiftShader) and onnxruntime-web build (the browser's).
 */
const SCORE_TOLERANCE = 1e-4;

/** The scores the page shows, as numbers (4 decimals). */
async function shownScores(page: Page, row: string): Promise<number[]> {
  return (await page.locator(`${row} .score`).allTextContents()).map((t) => Number(t.slice(6)));
}

/**
 * Fails unless `got` and `want` are as long and each pair is within `tolerance`; returns the
 * largest difference.
 */
function assertClose(got: number[], want: number[], tolerance: number, what: string): number {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, expected ${want.length}`);
  const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
  assert.ok(worst <= tolerance, `${what}: differ by up to ${worst}, more than ${tolerance}`);
  return worst;
}

/** Chooses a text file named `.png` (written in `dir`) and checks the page's error. */
async function uploadTextAsPng(page: Page, dir: string): Promise<void> {
  const fake = join(dir, "notes.png");
  await Deno.writeTextFile(fake, "FINDINGS: Heart size normal. No effusion.\n");
  await page.setInputFiles("#file", fake);
  await page.locator("#error").waitFor({ state: "visible" });
  assert.equal(
    await page.textContent("#error"),
    "notes.png is not a PNG or JPEG image (judged by its content, not its name); upload a " +
      "chest X-ray as PNG or JPEG",
  );
}

/** What a test of the app gets. */
interface App {
  /** The trained demo collection. */
  demo: DemoCollection;
  /** The module's search over it (the app's too). */
  search: CollectionSearch;
  /** The app's URL. */
  base: string;
  /** A temporary folder. */
  dir: string;
  /** Where screenshots go: $CXR_SCREENSHOTS, else a folder in `dir`. */
  shots: string;
}

/** Serves the trained demo on a free port while `fn` runs, then stops it and removes the folder. */
async function withApp(fn: (app: App) => Promise<void>): Promise<void> {
  const demo = await demoFixture();
  const dir = await Deno.makeTempDir();
  const shots = Deno.env.get("CXR_SCREENSHOTS") ?? join(dir, "screenshots");
  await Deno.mkdir(shots, { recursive: true });
  await using search = await openSearch(demo);
  const server = serveSearch(search, { port: 0, onListen: () => {} });
  try {
    await fn({
      demo,
      search,
      dir,
      shots,
      base: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`,
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const gpu = await tryGetGpu();
if (!gpu && Deno.env.get("CXR_REQUIRE_GPU") !== "1") {
  console.warn("skipping the web app's browser test: no WebGPU adapter (the search needs one)");
} else {
  browserTest(
    "the web app in Chromium: search by an X-ray, by a report, a bad upload",
    async (browser) => {
      if (!gpu) throw new Error("CXR_REQUIRE_GPU=1 but no WebGPU adapter was found");
      await withApp(async ({ demo, search, base, dir, shots }) => {
        const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
        const requests: string[] = [], errors: string[] = [];
        page.on("request", (r) => requests.push(r.url()));
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(base);
        await page.locator("#about", { hasText: "120 studies, 120 images" }).waitFor();
        assert.ok(await page.locator("#synthetic").isVisible(), "the SYNTHETIC banner");

        // An X-ray chosen with the file input: its 10 most similar reports, as the module ranks them.
        const image = demo.imagePaths[8];
        await page.setInputFiles("#file", image);
        await page.locator("#reports li").nth(9).waitFor();
        const byImage = await search.searchByImage(image, 10);
        assert.equal(
          await page.textContent("#results-title"),
          "Reports most similar to the X-ray (10)",
        );
        assert.deepEqual(await shownHits(page, "#reports li"), expected(byImage));
        assert.match(await page.textContent("#mode") ?? "", /^Private mode unavailable/);
        assert.equal(
          await page.textContent("#ran"),
          "Ran on the server: the X-ray was sent to it.",
        );
        assert.equal(
          await page.textContent("#estimate"),
          `Query estimate: ${byImage.abnormal >= 0.5 ? "abnormal" : "normal"} probability of ` +
            `abnormal ${byImage.abnormal.toFixed(3)}`,
        );
        assert.ok(await page.locator("#preview").isVisible(), "the chosen X-ray is shown");
        await page.screenshot({ path: join(shots, "search_by_image.png"), fullPage: true });

        // A report pasted: the 10 most similar images, each served by the app and loaded.
        const report = "Small left pleural effusion. Heart size is normal.";
        await page.fill("#text", report);
        await page.click("#text-search");
        await page.locator("#images figure").nth(9).waitFor();
        const byText = await search.searchByText(report, 10);
        assert.equal(
          await page.textContent("#results-title"),
          "Images most similar to the report (10)",
        );
        assert.deepEqual(await shownHits(page, "#images figure"), expected(byText));
        assert.equal(await page.locator("#reports li").count(), 0);
        const images = page.locator("#images img");
        await page.waitForFunction(() =>
          Array.from(
            (globalThis as unknown as { document: { images: ArrayLike<{ complete: boolean }> } })
              .document.images,
          ).every((i) => i.complete)
        );
        const sources = await images.evaluateAll((list) =>
          list.map((i) => {
            const img = i as unknown as { src: string; naturalWidth: number };
            return { src: img.src, width: img.naturalWidth };
          })
        );
        assert.deepEqual(
          sources.map((s) => s.src),
          byText.hits.map((h) => `${base}image/${demo.imagePaths.indexOf(h.imagePath!)}`),
        );
        assert.ok(sources.every((s) => s.width > 0), "every thumbnail loaded");
        await page.screenshot({ path: join(shots, "search_by_report.png"), fullPage: true });

        // A text file named .png: the page says what is wrong and shows no results.
        await uploadTextAsPng(page, dir);
        assert.ok(await page.locator("#results").isHidden(), "no results under the error");
        await page.screenshot({ path: join(shots, "bad_upload.png"), fullPage: true });

        // An X-ray dropped on the drop zone searches like a chosen one and clears the error.
        const bytes = Array.from(await Deno.readFile(demo.imagePaths[8]));
        const dropped = await page.evaluateHandle((data) => {
          const g = globalThis as unknown as {
            DataTransfer: new () => { items: { add(f: unknown): void } };
            File: new (parts: unknown[], name: string, o: { type: string }) => unknown;
          };
          const transfer = new g.DataTransfer();
          transfer.items.add(
            new g.File([new Uint8Array(data)], "dropped.png", { type: "image/png" }),
          );
          return transfer;
        }, bytes);
        await page.dispatchEvent("#drop", "drop", { dataTransfer: dropped });
        await page.locator("#reports li").nth(9).waitFor();
        assert.ok(await page.locator("#error").isHidden());
        assert.deepEqual(await shownHits(page, "#reports li"), expected(byImage));

        const outside = requests.filter((u) => !u.startsWith(base) && !u.startsWith("blob:"));
        assert.deepEqual(outside, [], "requests beyond the app");
        assert.deepEqual(
          errors,
          ["Failed to load resource: the server responded with a status of 415 (Unsupported Media Type)"],
        );
        console.log(`screenshots in ${shots}`);
        await page.close();
      });
    },
  );
}

if (gpu) {
  browserTest(
    "the private mode in Chromium with WebGPU: the module's hits, and the query never sent",
    async (browser) => {
      await withApp(async ({ demo, search, base, dir, shots }) => {
        const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
        const requests: { method: string; url: string; body: boolean }[] = [],
          errors: string[] = [];
        page.on(
          "request",
          (r) =>
            requests.push({ method: r.method(), url: r.url(), body: r.postDataBuffer() !== null }),
        );
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(base);
        const mode = page.locator("#mode", { hasText: "Private mode available" });
        await mode.waitFor({ timeout: 120_000 }).catch(async (e) => {
          throw new Error(`the private mode did not open: ${await page.textContent("#mode")}`, {
            cause: e,
          });
        });
        assert.ok(await page.isChecked("#local"), "the private mode is on by default");
        const adapter = (await page.textContent("#mode"))!.match(/WebGPU: (.*)\)\.$/)![1];

        // An X-ray: the module's 10 reports, ranked alike, scored within the tolerance.
        const image = demo.imagePaths[8];
        await page.setInputFiles("#file", image);
        await page.locator("#ran", { hasText: "X-ray was not sent" }).waitFor();
        const byImage = await search.searchByImage(image, 10);
        const shown = await shownHits(page, "#reports li");
        assert.deepEqual(shown.ids, byImage.hits.map((h) => h.id));
        assert.deepEqual(shown.reports, byImage.hits.map((h) => h.report ?? ""));
        assert.deepEqual(shown.labels, byImage.hits.map((h) => h.label));
        assertClose(
          await shownScores(page, "#reports li"),
          byImage.hits.map((h) => h.score),
          SCORE_TOLERANCE + 5e-5, // the page rounds to 4 decimals
          "image query scores",
        );
        assert.equal(
          await page.textContent("#ran"),
          `Ran in this browser (WebGPU: ${adapter}): the X-ray was not sent anywhere.`,
        );
        await page.screenshot({ path: join(shots, "private_search_by_image.png"), fullPage: true });

        // A report: the module's 10 images, each loaded from the app.
        const report = "Small left pleural effusion. Heart size is normal.";
        await page.fill("#text", report);
        await page.click("#text-search");
        await page.locator("#ran", { hasText: "report was not sent" }).waitFor();
        const byText = await search.searchByText(report, 10);
        assert.deepEqual(
          (await shownHits(page, "#images figure")).ids,
          byText.hits.map((h) => h.id),
        );
        assertClose(
          await shownScores(page, "#images figure"),
          byText.hits.map((h) => h.score),
          SCORE_TOLERANCE + 5e-5,
          "report query scores",
        );
        const sources = await page.locator("#images img").evaluateAll((list) =>
          list.map((i) => (i as unknown as { src: string }).src)
        );
        assert.deepEqual(
          sources,
          byText.hits.map((h) => `${base}image/${demo.imagePaths.indexOf(h.imagePath!)}`),
        );
        await page.screenshot({
          path: join(shots, "private_search_by_report.png"),
          fullPage: true,
        });

        // The scores at full precision and the estimates, from the page's own search module.
        const bytes = Array.from(await Deno.readFile(image));
        const exact = await page.evaluate(async ({ bytes, report }) => {
          const m = await import("/local/search.js" as string);
          const local = await m.openLocalSearch("/local/");
          const i = await local.searchByImage(new Uint8Array(bytes), 10);
          const t = await local.searchByText(report, 10);
          const scores = (r: { hits: { score: number }[] }) => r.hits.map((h) => h.score);
          return { image: scores(i), text: scores(t), abnormal: [i.abnormal, t.abnormal] };
        }, { bytes, report });
        const scores = (r: SearchResult) => r.hits.map((h) => h.score);
        const worst = [
          assertClose(exact.image, scores(byImage), SCORE_TOLERANCE, "image query scores"),
          assertClose(exact.text, scores(byText), SCORE_TOLERANCE, "report query scores"),
          assertClose(
            exact.abnormal,
            [byImage.abnormal, byText.abnormal],
            SCORE_TOLERANCE,
            "estimates",
          ),
        ];
        console.log(`largest differences from the module: ${worst.map((w) => w.toExponential(1))}`);

        // A text file named .png: refused in the page with the server's words.
        await uploadTextAsPng(page, dir);

        // Nothing the page sent carried a query: only GETs, none of them to the search API.
        assert.deepEqual(requests.filter((r) => r.method !== "GET" || r.body), []);
        assert.ok(!requests.some((r) => r.url.includes("/api/search")), "no /api/search request");
        assert.deepEqual(
          requests.filter((r) => !r.url.startsWith(base) && !r.url.startsWith("blob:")),
          [],
          "requests beyond the app",
        );

        // The private mode off: the same X-ray goes to the server, which says so.
        await page.uncheck("#local");
        await page.setInputFiles("#file", image);
        await page.locator("#ran", { hasText: "Ran on the server" }).waitFor();
        assert.deepEqual((await shownHits(page, "#reports li")).ids, byImage.hits.map((h) => h.id));
        assert.ok(
          requests.some((r) => r.method === "POST" && r.url === `${base}api/search?k=10`),
          "the server mode posts the X-ray",
        );
        assert.deepEqual(errors, []);
        console.log(`private mode on ${adapter}; screenshots in ${shots}`);
        await page.close();
      });
    },
    ["--enable-unsafe-webgpu"],
  );
}
