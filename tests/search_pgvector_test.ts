import assert from "node:assert/strict";
import { indexCollection } from "../src/retrieval/pgvector_write.ts";
import { type CollectionSearch, openSearch } from "../src/retrieval/search.ts";
import type { SearchHit, StudyFilter } from "../src/retrieval/search_index.ts";
import { gpuTest } from "./util/check.ts";
import { runCli, startServe } from "./util/cli.ts";
import { demoFixture } from "./util/demo_fixture.ts";
import { rejectsWith } from "./util/errors.ts";
import { startPglite } from "./util/pglite_server.ts";

/** Scores within this of each other may swap places (pgvector sums in float32, in its order). */
const TIE = 2e-5;

/** The demo fixture written into a fresh PGlite, and both searches open on it. */
async function bothBackends() {
  const demo = await demoFixture();
  const server = await startPglite();
  await indexCollection({
    url: server.url,
    checkpoint: demo.checkpoint,
    collection: demo.collection,
  });
  const gpu = await openSearch({ checkpoint: demo.checkpoint, collection: demo.collection });
  const pg = await openSearch({ checkpoint: demo.checkpoint, index: server.url, efSearch: 200 });
  return {
    demo,
    server,
    gpu,
    pg,
    async [Symbol.asyncDispose]() {
      await gpu.close();
      await pg.close();
      await server.stop();
    },
  };
}

/** Asserts two backends' lists equal: the same studies in the same order (near ties aside), the same fields. */
function assertSameHits(pg: SearchHit[], gpu: SearchHit[], what: string): void {
  assert.equal(pg.length, gpu.length, `${what}: ${pg.length} hits, expected ${gpu.length}`);
  pg.forEach((h, i) => {
    const e = gpu[i];
    assert.ok(Math.abs(h.score - e.score) <= TIE, `${what}: hit ${i + 1} ${h.id} vs ${e.id}`);
    if (h.id !== e.id) return; // a near tie swapped: its partner is checked at the other rank
    assert.deepEqual({ ...h, score: 0 }, { ...e, score: 0 }, `${what}: hit ${i + 1}`);
  });
  const ids = (l: SearchHit[]) => l.map((h) => h.id).sort();
  if (Math.abs(gpu.at(-1)!.score - (gpu.at(-2)?.score ?? -2)) > TIE) {
    assert.deepEqual(ids(pg), ids(gpu), `${what}: other studies`);
  }
}

/** Both backends' hits for study `i`'s image, or its report when `byReport`. */
async function searchBoth(
  b: {
    gpu: CollectionSearch;
    pg: CollectionSearch;
    demo: { imagePaths: string[]; reports: string[] };
  },
  i: number,
  k: number,
  where: StudyFilter = {},
  byReport = false,
) {
  const run = (s: CollectionSearch) =>
    byReport
      ? s.searchByText(b.demo.reports[i], k, { where })
      : s.searchByImage(b.demo.imagePaths[i], k, { where });
  const [gpu, pg] = [await run(b.gpu), await run(b.pg)];
  assert.ok(Math.abs(gpu.abnormal - pg.abnormal) < 1e-6, "the same estimate");
  return { gpu: gpu.hits, pg: pg.hits };
}

gpuTest(
  "openSearch --index: pgvector gives the GPU exact index's top-10 by image and by report, same fields",
  async () => {
    await using b = await bothBackends();
    assert.equal(b.pg.info.backend, "pgvector");
    assert.equal(b.pg.info.studies, 120);
    assert.match(
      b.pg.info.collection,
      /^table cxr_studies at postgres@127\.0\.0\.1:\d+\/postgres$/,
    );
    assert.equal(b.pg.collection, null);
    // One image per study in the demo: both backends search the same image rows.
    assert.equal(b.gpu.info.images, b.gpu.info.studies);
    assert.deepEqual(await b.pg.imageFiles(), await b.gpu.imageFiles());
    for (const byReport of [false, true]) {
      for (let i = 0; i < 120; i += 15) {
        const { gpu, pg } = await searchBoth(b, i, 10, {}, byReport);
        assertSameHits(pg, gpu, `${byReport ? "report" : "image"} of study ${i}`);
        assert.ok(gpu.every((h) => h.patientId !== null && h.split !== undefined));
        if (byReport) assert.ok(gpu.every((h) => h.imagePath === h.imagePaths[0]));
      }
    }
  },
);

gpuTest(
  "filters on both backends: label, split and the query's own patient left out, exactly",
  async () => {
    await using b = await bothBackends();
    const set = b.gpu.collection!;
    const patientOf = (i: number) => set.studies![i].patientId;
    // A patient with two studies: an image query of one must find neither.
    const counts = new Map<string, number>();
    set.studies!.forEach((s) => counts.set(s.patientId, (counts.get(s.patientId) ?? 0) + 1));
    const twice = set.studies!.findIndex((s) => counts.get(s.patientId)! >= 2);
    assert.ok(twice >= 0, "the demo has a patient with two studies");
    const own = patientOf(twice);
    const unfiltered = (await b.gpu.searchByImage(b.demo.imagePaths[twice], 64)).hits;
    assert.equal(unfiltered[0].patientId, own, "unfiltered, the query's own study comes first");
    const cases: [StudyFilter, (h: SearchHit) => boolean][] = [
      [{ excludePatient: own }, (h) => h.patientId !== own],
      [{ label: "abnormal" }, (h) => h.label === "abnormal"],
      [{ split: "test", label: "normal" }, (h) => h.split === "test" && h.label === "normal"],
      [{ split: "train", excludePatient: own }, (h) => h.split === "train" && h.patientId !== own],
    ];
    for (const [where, allow] of cases) {
      for (const byReport of [false, true]) {
        const { gpu, pg } = await searchBoth(b, twice, 10, where, byReport);
        const what = `${JSON.stringify(where)} ${byReport ? "report" : "image"}`;
        assert.ok(gpu.length > 0 && gpu.every(allow) && pg.every(allow), what);
        assertSameHits(pg, gpu, what);
        assert.deepEqual(gpu.map((h) => h.rank), gpu.map((_, i) => i + 1));
        if (!byReport) {
          // Exact: the allowed studies among the unfiltered top 64 come first, in their order.
          const expected = unfiltered.filter(allow).slice(0, gpu.length).map((h) => h.id);
          assert.deepEqual(gpu.map((h) => h.id).slice(0, expected.length), expected, what);
        }
      }
    }
    // k + the patient's rows past 64: the GPU index searches without them instead.
    const { gpu, pg } = await searchBoth(b, twice, 64, { excludePatient: own });
    assert.equal(gpu.length, 64);
    assert.ok(gpu.every((h) => h.patientId !== own));
    assertSameHits(pg, gpu, "k 64 without the patient");
    assert.deepEqual(
      gpu.map((h) => h.id).slice(0, 62),
      unfiltered.slice(counts.get(own)!).map((h) => h.id).slice(0, 62),
    );
  },
);

gpuTest("deno task search --index postgres://… with --where and --exclude-patient", async () => {
  await using b = await bothBackends();
  const { demo } = b;
  const own = b.gpu.collection!.studies![3].patientId;
  const r = await runCli("search.ts", [
    ...["--checkpoint", demo.checkpoint, "--index", b.server.url, "--ef-search", "200"],
    ...["--image", demo.imagePaths[3], "--k", "5", "--json"],
    ...["--where", "label=abnormal", "--exclude-patient", own],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  const where = { label: "abnormal", excludePatient: own } as const;
  const expected = await b.gpu.searchByImage(demo.imagePaths[3], 5, { where });
  assertSameHits(result.hits, expected.hits, "CLI --index");
  const text = await runCli("search.ts", [
    ...["--checkpoint", demo.checkpoint, "--index", b.server.url],
    ...["--text", demo.reports[5], "--k", "3", "--where", "split=test"],
  ]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^query: report, probability of abnormal 0\.\d{3}/);
  assert.equal(text.stdout.trim().split("\n").length, 5);
  const refused: [string[], string][] = [
    [["--index", b.server.url, "--table", "absent"], "no table absent at postgres@127.0.0.1"],
    [["--index", b.server.url, "--collection", demo.collection], "give --collection or --index"],
    [["--collection", demo.collection, "--table", "t"], "--table goes with --index"],
    [["--index", b.server.url, "--where", "site=x"], '--where "site=x": expected label='],
    [["--index", "postgres://u@127.0.0.1:1/db"], "cannot reach PostgreSQL at u@127.0.0.1:1/db"],
  ];
  for (const [args, message] of refused) {
    const e = await runCli("search.ts", ["--checkpoint", demo.checkpoint, "--text", "x", ...args]);
    assert.equal(e.code, 1, `${args}: ${e.stdout}`);
    assert.ok(e.stderr.includes(message), `${args}: ${e.stderr}`);
  }
  // A checkpoint whose head did not write the table is refused, naming both heads.
  await rejectsWith(
    async () => {
      const other = `${demo.dir}/other.safetensors`;
      const bytes = await Deno.readFile(demo.checkpoint);
      await Deno.writeFile(other, bytes);
      const { loadCheckpoint, saveCheckpoint } = await import("../src/model/checkpoint.ts");
      const c = await loadCheckpoint(other);
      c.params[0] += 1;
      await saveCheckpoint(other, c);
      await openSearch({ checkpoint: other, index: b.server.url });
    },
    "holds embeddings of head",
  );
});

gpuTest("deno task serve --index postgres://…: /api/search, the images, the status", async () => {
  await using b = await bothBackends();
  await using serve = await startServe([
    "--checkpoint",
    b.demo.checkpoint,
    "--index",
    b.server.url,
  ]);
  const { out, url } = serve;
  assert.match(out, /table cxr_studies at .*: 120 studies, 120 images; .*PostgreSQL \+ pgvector/);
  const image = await Deno.readFile(b.demo.imagePaths[7]);
  const response = await fetch(`${url}api/search?k=4`, { method: "POST", body: image });
  assert.equal(response.status, 200);
  const found = await response.json();
  const expected = await b.gpu.searchByImage(image, 4);
  const { imageUrl, imageUrls, ...first } = found.hits[0];
  assert.ok(Math.abs(first.score - expected.hits[0].score) <= TIE);
  assert.deepEqual({ ...first, score: 0 }, { ...expected.hits[0], score: 0 });
  assert.equal(imageUrl, null);
  const served = await fetch(`${url}${imageUrls[0].slice(1)}`);
  assert.equal(served.headers.get("content-type"), "image/png");
  assert.deepEqual(
    new Uint8Array(await served.arrayBuffer()),
    await Deno.readFile(first.imagePaths[0]),
  );
  const report = await fetch(`${url}api/search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: b.demo.reports[7], k: 3 }),
  });
  const images = await report.json();
  assert.equal(images.hits.length, 3);
  assert.ok(
    images.hits.every((h: { imageUrl: string | null }) => h.imageUrl?.startsWith("/image/")),
  );
  const status = await (await fetch(`${url}api/status`)).json();
  assert.equal(status.backend, "pgvector");
  assert.equal(status.studies, 120);
});
