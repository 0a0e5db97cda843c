// The web app in headless Chromium on the small trained demo: an X-ray chosen and one dropped give
// the ranked reports the module gives, a pasted report gives the images (each loaded), a text
// file named .png gets the page's error; screenshots of each (under $CXR_SCREENSHOTS, or a temp
// folder); no request leaves the server, and the page logs no error but the refused upload's.

import assert from "node:assert/strict";
import { join } from "node:path";
import { tryGetGpu } from "../src/gpu/context.ts";
import { openSearch, type SearchResult } from "../src/retrieval/search.ts";
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

const gpu = await tryGetGpu();
if (!gpu && Deno.env.get("CXR_REQUIRE_GPU") !== "1") {
  console.warn("skipping the web app's browser test: no WebGPU adapter (the search needs one)");
} else {
  browserTest(
    "the web app in Chromium: search by an X-ray, by a report, a bad upload",
    async (browser) => {
      if (!gpu) throw new Error("CXR_REQUIRE_GPU=1 but no WebGPU adapter was found");
      const demo = await demoFixture();
      const dir = await Deno.makeTempDir();
      const shots = Deno.env.get("CXR_SCREENSHOTS") ?? join(dir, "screenshots");
      await Deno.mkdir(shots, { recursive: true });
      await using search = await openSearch(demo);
      const server = serveSearch(search, { port: 0, onListen: () => {} });
      const base = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
      try {
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
        const fake = join(dir, "notes.png");
        await Deno.writeTextFile(fake, "FINDINGS: Heart size normal. No effusion.\n");
        await page.setInputFiles("#file", fake);
        await page.locator("#error").waitFor({ state: "visible" });
        assert.equal(
          await page.textContent("#error"),
          "notes.png is not a PNG or JPEG image (judged by its content, not its name); upload a " +
            "chest X-ray as PNG or JPEG",
        );
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
      } finally {
        await server.shutdown();
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}
