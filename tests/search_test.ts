import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { loadEmbeddings, saveEmbeddings } from "../src/io/embeddings.ts";
import { loadCheckpoint, saveCheckpoint } from "../src/model/checkpoint.ts";
import { indexPath } from "../src/retrieval/projected_index.ts";
import { openSearch, SearchInputError } from "../src/retrieval/search.ts";
import { gpuTest } from "./util/check.ts";
import { demoFixture } from "./util/demo_fixture.ts";
import { rejectsWith } from "./util/errors.ts";

gpuTest(
  "searchByImage: a study's own report is in its image's top 10 far more often than chance",
  async () => {
    const demo = await demoFixture();
    await using search = await openSearch(demo);
    const n = demo.imagePaths.length, queries = n / 2;
    let own = 0, chance = 0;
    for (let i = 0; i < n; i += 2) {
      const { hits, query, abnormal } = await search.searchByImage(demo.imagePaths[i], 10);
      assert.equal(query, "image");
      assert.ok(abnormal > 0 && abnormal < 1, `abnormal probability ${abnormal}`);
      assert.deepEqual(hits.map((h) => h.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.ok(hits.every((h, j) => j === 0 || hits[j - 1].score >= h.score), "best first");
      // Synthetic reports repeat word for word: any of the r studies with this text counts, and
      // a random top 10 holds one of them with probability 1 - C(n - r, 10) / C(n, 10).
      if (hits.some((h) => h.report === demo.reports[i])) own++;
      const r = demo.reports.filter((t) => t === demo.reports[i]).length;
      let none = 1;
      for (let j = 0; j < 10; j++) none *= (n - r - j) / (n - j);
      chance += 1 - none;
    }
    assert.ok(
      own > 4 * chance,
      `own report in the top 10 for ${own} of ${queries} images; chance ${chance.toFixed(1)}`,
    );
  },
);

gpuTest(
  "search: hits carry the study's facts; repeated and reopened searches are identical",
  async () => {
    const demo = await demoFixture();
    const set = await loadEmbeddings(demo.collection);
    const open = () => openSearch(demo);
    const image = demo.imagePaths[3], report = "Small left pleural effusion.";
    let first;
    {
      await using search = await open();
      first = [await search.searchByImage(image, 7), await search.searchByText(report, 9)];
      assert.deepEqual(await search.searchByImage(image, 7), first[0]);
      assert.deepEqual(await search.searchByText(report, 9), first[1]);
      assert.deepEqual(await search.searchByImage(await Deno.readFile(image), 7), first[0]);
      // Concurrent callers are served one at a time, in order.
      const both = await Promise.all([
        search.searchByText(report, 9),
        search.searchByImage(image, 7),
      ]);
      assert.deepEqual(both, [first[1], first[0]]);
    }
    for (const hit of [...first[0].hits, ...first[1].hits]) {
      const study = set.studies![hit.row];
      assert.equal(hit.id, set.ids[hit.row]);
      assert.equal(hit.label, set.label[hit.row] === 1 ? "abnormal" : "normal");
      assert.equal(hit.report, study.report);
      assert.deepEqual(hit.findings, study.findings);
      assert.deepEqual(hit.imagePaths, study.imagePaths);
    }
    assert.ok(first[0].hits.every((h) => h.imagePath === null), "report hits name no image");
    assert.ok(first[1].hits.every((h) => h.imagePaths.includes(h.imagePath!)), "the matched image");
    await using again = await open();
    assert.ok(again.info.index.cached, "the second open reads the projected index");
    assert.deepEqual(
      [await again.searchByImage(image, 7), await again.searchByText(report, 9)],
      first,
    );
  },
);

gpuTest(
  "the projected index is rebuilt when the checkpoint or the collection changes",
  async () => {
    const demo = await demoFixture();
    const dir = await Deno.makeTempDir();
    const checkpoint = join(dir, "best.safetensors"), collection = join(dir, "c.safetensors");
    await Deno.copyFile(demo.checkpoint, checkpoint);
    await Deno.copyFile(demo.collection, collection);
    const open = async () => {
      await using s = await openSearch({ checkpoint, collection });
      return { index: s.info.index, hits: (await s.searchByText("Cardiomegaly.", 5)).hits };
    };
    const a = await open(), b = await open();
    assert.deepEqual([a.index.cached, b.index.cached], [false, true]);
    assert.equal(a.index.path, b.index.path);
    // Another checkpoint at the same path: the index file is replaced, not reused.
    await Deno.copyFile(join(dirname(demo.checkpoint), "epoch_1.safetensors"), checkpoint);
    const c = await open();
    assert.equal(c.index.cached, false);
    assert.equal(c.index.path, a.index.path);
    assert.notDeepEqual(c.hits.map((h) => h.score), a.hits.map((h) => h.score));
    // Another collection (one study fewer): an index file of its own.
    const set = await loadEmbeddings(collection);
    const keep = set.count - 1, dim = set.dim;
    const images = set.images!, rows = images.study.findIndex((s) => s === keep);
    await saveEmbeddings(collection, {
      ...set,
      ids: set.ids.slice(0, keep),
      image: set.image.slice(0, keep * dim),
      text: set.text.slice(0, keep * dim),
      label: set.label.slice(0, keep),
      split: set.split.slice(0, keep),
      count: keep,
      studies: set.studies!.slice(0, keep),
      images: {
        values: images.values.slice(0, rows * dim),
        study: images.study.slice(0, rows),
        count: rows,
      },
    });
    const d = await open();
    assert.equal(d.index.cached, false);
    assert.notEqual(d.index.path, a.index.path);
    assert.match(d.index.path, /best\.index-[0-9a-f]{16}\.safetensors$/);
    assert.equal(
      indexPath(checkpoint, "0".repeat(64)),
      join(dir, "best.index-0000000000000000.safetensors"),
    );
    await Deno.remove(dir, { recursive: true });
  },
);

gpuTest("search: clear errors for missing files, bad images, empty reports, bad k", async () => {
  const demo = await demoFixture();
  const dir = await Deno.makeTempDir();
  const missing = join(dir, "none.safetensors");
  await rejectsWith(
    () => openSearch({ checkpoint: missing, collection: demo.collection }),
    `${missing}: no such checkpoint file`,
  );
  await rejectsWith(
    () => openSearch({ checkpoint: demo.checkpoint, collection: missing }),
    `${missing}: no such collection file`,
  );
  await using search = await openSearch(demo);
  const input = async (f: () => Promise<unknown>, text: string) => {
    await assert.rejects(f, (e: Error) => {
      assert.ok(e instanceof SearchInputError, `${e.name}: ${e.message}`);
      assert.ok(e.message.includes(text), `${e.message}\ndoes not contain\n${text}`);
      return true;
    });
  };
  await input(
    () => search.searchByImage(join(dir, "x.png"), 5),
    "x.png: cannot read the query image (no such file)",
  );
  const text = new TextEncoder().encode("Heart size normal. No effusion.\n");
  await input(() => search.searchByImage(text, 5), "the query image: not a PNG or JPEG image");
  const png = await Deno.readFile(demo.imagePaths[0]);
  await input(() => search.searchByImage(png.slice(0, 200), 5), "the query image: corrupt PNG");
  await input(() => search.searchByText("  \n", 5), "the query report: empty report");
  await input(
    () => search.searchByText("Cardiomegaly.", 0),
    "k must be an integer from 1 to 64, got 0",
  );
  await input(() => search.searchByImage(png, 65), "k must be an integer from 1 to 64, got 65");
  // The search still works after refusing bad queries.
  assert.equal((await search.searchByImage(png, 3)).hits.length, 3);
  await Deno.remove(dir, { recursive: true });
});

gpuTest("openSearch refuses a collection embedded by other towers, naming both ids", async () => {
  const demo = await demoFixture();
  const dir = await Deno.makeTempDir(), collection = join(dir, "c.safetensors");
  const set = await loadEmbeddings(demo.collection);
  const other = "image-0123456789abcdef-open_clip-bicubic-v1-224";
  await saveEmbeddings(collection, { ...set, metadata: { ...set.metadata, image_encoder: other } });
  await rejectsWith(
    () => openSearch({ checkpoint: demo.checkpoint, collection }),
    `${collection} was embedded by ${other} and ${set.metadata.text_encoder}; none of weights, ` +
      "weights/demo holds those towers",
  );
  await rejectsWith(
    () => openSearch({ checkpoint: demo.checkpoint, collection, weights: "weights/demo" }),
    `${collection} was embedded by image encoder ${other}, but weights/demo holds image encoder`,
  );
  // A checkpoint trained on other towers' embeddings of the same width.
  const c = await loadCheckpoint(demo.checkpoint), checkpoint = join(dir, "other.safetensors");
  const dataset = { ...c.config.dataset as object, image_encoder: other };
  await saveCheckpoint(checkpoint, { ...c, config: { ...c.config, dataset } });
  await rejectsWith(
    () => openSearch({ checkpoint, collection: demo.collection }),
    `${checkpoint} was trained on embeddings of ${other}, but ${demo.collection} was embedded ` +
      `by ${set.metadata.image_encoder}; use a checkpoint trained on embeddings of the ` +
      "collection's encoder",
  );
  await Deno.remove(dir, { recursive: true });
});

gpuTest("openSearch embeds a dataset through the cache and searches it", async () => {
  const demo = await demoFixture();
  const collection = {
    dataset: "synthetic" as const,
    dataDir: join(demo.dir, "data"),
    seed: 7,
    syntheticCount: 120,
    cacheDir: join(demo.dir, "cache"),
  };
  await using search = await openSearch({
    checkpoint: demo.checkpoint,
    collection,
    weights: "weights/demo",
  });
  await using file = await openSearch(demo);
  assert.equal(search.info.studies, 120);
  assert.deepEqual(
    await search.searchByImage(demo.imagePaths[5], 5),
    await file.searchByImage(demo.imagePaths[5], 5),
  );
});
