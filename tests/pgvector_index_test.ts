import assert from "node:assert/strict";
import { loadEmbeddings, saveEmbeddings, selectRows, splitRows } from "../src/io/embeddings.ts";
import { loadCheckpoint } from "../src/model/checkpoint.ts";
import { Projector } from "../src/model/projector.ts";
import { connect } from "../src/retrieval/pg_connection.ts";
import { PgvectorIndex } from "../src/retrieval/pgvector_index.ts";
import { parseWhere, type SearchHit } from "../src/retrieval/search_index.ts";
import { ensureTable, readTable } from "../src/retrieval/pgvector_schema.ts";
import { headHash, indexCollection, upsertStudies } from "../src/retrieval/pgvector_write.ts";
import { type Hit, Retriever } from "../src/retrieval/retriever.ts";
import { gpuTest } from "./util/check.ts";
import { rejectsWith } from "./util/errors.ts";
import { startPglite } from "./util/pglite_server.ts";
import { demoFiles, writeDemoLikeCollection } from "./util/pgvector_fixture.ts";

/** Scores within this of each other may swap places (pgvector sums in float32, in its order). */
const TIE = 2e-5;

/**
 * Checks pgvector's list against the exact one: the same ids in the same order, except near
 * ties, and the same scores; returns how many of the exact ids pgvector found.
 */
function matchTopK(pg: SearchHit[], exact: Hit[], query: string): number {
  assert.equal(pg.length, exact.length, `${query}: ${pg.length} hits, expected ${exact.length}`);
  const last = exact.at(-1)!.score, found = new Set(pg.map((h) => h.id));
  pg.forEach((h, i) => {
    assert.ok(
      Math.abs(h.score - exact[i].score) <= TIE,
      `${query}: hit ${i + 1} is ${h.id} (${h.score}), exact ${exact[i].id} (${exact[i].score})`,
    );
  });
  for (const e of exact) {
    assert.ok(found.has(e.id) || e.score - last <= TIE, `${query}: pgvector missed ${e.id}`);
  }
  return exact.filter((e) => found.has(e.id)).length;
}

gpuTest(
  "pgvector round trip: the demo collection searched by image and by report gives the GPU exact top-10",
  async (gpu) => {
    const demo = await demoFiles();
    const files = demo ?? await writeDemoLikeCollection({ count: 2000, dim: 128, outDim: 128 });
    if (!demo) console.warn("logs/demo absent (deno task train): a SYNTHETIC 2,000-study stand-in");
    await using server = await startPglite();
    try {
      const report = await indexCollection({ url: server.url, ...files, table: "demo" });
      const set = await loadEmbeddings(files.collection);
      assert.equal(report.written, set.count);
      assert.deepEqual(report.indexesBuilt, ["demo_image_hnsw", "demo_report_hnsw"]);

      const checkpoint = await loadCheckpoint(files.checkpoint);
      const expect = {
        imageEncoder: set.metadata.image_encoder,
        textEncoder: set.metadata.text_encoder,
        head: headHash(checkpoint),
        dim: checkpoint.head.outDim,
      };
      await using index = await PgvectorIndex.open(server.url, { table: "demo", expect });
      assert.equal(index.state.rows, set.count);
      const projector = await Projector.load(files.checkpoint, gpu);
      const rows = splitRows(set, "test"), n = rows.length, k = 10;
      let found = 0;
      for (const [over, query] of [["text", "image"], ["image", "text"]] as const) {
        const frozen = selectRows(set[query], rows, set.dim);
        using exactIndex = await Retriever.create(projector, over, set[over], set.ids);
        const exact = await exactIndex.queryBatch(frozen, n, k);
        const z = await projector.project(query, frozen, n) as Float32Array<ArrayBuffer>;
        const pg = await index.search(over, z, n, k, { efSearch: 200 });
        pg.forEach((hits, q) => {
          found += matchTopK(hits, exact[q], `${query} query ${set.ids[rows[q]]}`);
          for (const h of hits) {
            assert.equal(h.id, set.ids[h.row]);
            assert.equal(h.label, set.label[h.row] === 1 ? "abnormal" : "normal");
            assert.equal(h.report, set.studies?.[h.row].report ?? null);
            assert.deepEqual(h.imagePaths, set.studies?.[h.row].imagePaths ?? []);
          }
        });
        const plan = await index.explain(over, z.subarray(0, projector.head.outDim), k);
        assert.match(plan, /Index Scan using demo_(image|report)_hnsw/);
      }
      const recall = found / (2 * n * k);
      console.log(
        `pgvector HNSW (ef_search 200) recall@10 against the GPU exact top-10: ${recall} ` +
          `(${2 * n} queries over ${set.count} studies; every miss a tie at 10th place)`,
      );
      // matchTopK allowed only ties to differ; on the demo, one of 3,880 ids is such a swap.
      assert.ok(recall >= 0.999, `recall@10 ${recall}`);
    } finally {
      if (files.dir) await Deno.remove(files.dir, { recursive: true });
    }
  },
);

gpuTest(
  "pgvector filters: label, split and patient exclusion keep the exact order of the rows they allow",
  async (gpu) => {
    const files = await writeDemoLikeCollection({ count: 300 });
    await using server = await startPglite();
    try {
      await indexCollection({ url: server.url, ...files, batchSize: 64 });
      const again = await indexCollection({ url: server.url, ...files, batchSize: 64 });
      assert.deepEqual([again.written, again.present, again.indexesBuilt], [0, 300, []]);
      // A study whose report changed: its row is replaced, not doubled.
      const set = await loadEmbeddings(files.collection);
      set.studies![5].report = "SYNTHETIC report 5, amended.";
      await saveEmbeddings(files.collection, set);
      const amended = await indexCollection({ url: server.url, ...files, batchSize: 64 });
      assert.deepEqual([amended.written, amended.present], [1, 299]);

      const projector = await Projector.load(files.checkpoint, gpu);
      const all = Uint32Array.from(set.ids, (_, i) => i), out = projector.head.outDim;
      const zText = await projector.project("text", set.text, set.count);
      // Study 0's own report as the query: unfiltered, it finds itself first.
      const query = zText.slice(0, out);
      const cosine = Array.from(set.ids, (_, r) => {
        let s = 0;
        for (let j = 0; j < out; j++) s += query[j] * zText[r * out + j];
        return s;
      });
      const exactOf = (allow: (r: number) => boolean) =>
        [...all].filter(allow).sort((a, b) => cosine[b] - cosine[a]).slice(0, 10)
          .map((r) => ({ id: set.ids[r], index: r, score: cosine[r] }));

      await using index = await PgvectorIndex.open(server.url);
      assert.equal(index.state.rows, 300);
      const [five] = await index.search("text", zText.slice(5 * out, 6 * out), 1, 1);
      assert.deepEqual([five[0].id, five[0].report], [set.ids[5], "SYNTHETIC report 5, amended."]);
      const cases = [
        [["label=abnormal"], (r: number) => set.label[r] === 1],
        [["split=test", "label=normal"], (r: number) => set.split[r] === 2 && set.label[r] === 0],
        [["patient!=patient-o'brien"], (r: number) => r >= 2],
      ] as const;
      for (const [where, allow] of cases) {
        const [hits] = await index.search("text", query, 1, 10, {
          where: parseWhere([...where]),
          efSearch: 300,
        });
        assert.equal(matchTopK(hits, exactOf(allow), where.join(" ")), 10);
        assert.ok(hits.every((h) => allow(h.row)), `${where}: a hit the filter excludes`);
      }
      const [plain] = await index.search("text", query, 1, 10, { efSearch: 300 });
      assert.deepEqual([plain[0].id, plain[0].patientId], [set.ids[0], "patient-o'brien"]);
    } finally {
      await Deno.remove(files.dir, { recursive: true });
    }
  },
);

Deno.test("pgvector refusals: an unreachable server, another head, encoder or width, a foreign table", async () => {
  const files = await writeDemoLikeCollection({ count: 12 });
  const other = await writeDemoLikeCollection({
    count: 12,
    encoders: { image: "image-other", text: "text-synthetic" },
  });
  await using server = await startPglite();
  try {
    const o = { ...files, batchSize: 4 };
    await rejectsWith(
      () => indexCollection({ ...o, url: "postgres://ann:secret@127.0.0.1:1/archive" }),
      "cannot reach PostgreSQL at ann@127.0.0.1:1/archive: connection refused",
    );
    await rejectsWith(
      () => indexCollection({ ...o, url: "postgres://ann@no-such-host.invalid/archive" }),
      "cannot reach PostgreSQL at ann@no-such-host.invalid:5432/archive: no such host",
    );
    await rejectsWith(
      () => indexCollection({ ...o, url: server.url, table: "x; drop" }),
      "--table",
    );

    // A table that another head wrote (one row written directly: no GPU needed to refuse).
    const sql = await connect(server.url);
    await ensureTable(sql, "cxr_studies", 16);
    const row = {
      key: "k",
      id: "s",
      row: 0,
      patientId: null,
      split: "train" as const,
      label: "normal" as const,
      findings: [],
      report: null,
      imagePaths: [],
      image: new Float32Array(16).fill(0.25),
      text: new Float32Array(16).fill(0.25),
    };
    const ids = { imageEncoder: "image-synthetic", textEncoder: "text-synthetic" };
    await upsertStudies(sql, "cxr_studies", [row], { ...ids, head: "feedface".repeat(8) });
    await rejectsWith(
      () => indexCollection({ ...o, url: server.url }),
      "cxr_studies at postgres@127.0.0.1:" + server.port +
        "/postgres holds embeddings of head feedfacefeedface",
    );
    const mine = headHash(await loadCheckpoint(files.checkpoint));
    await sql`UPDATE cxr_studies SET head_sha256 = ${mine}`;
    await rejectsWith(
      () => indexCollection({ ...other, batchSize: 4, url: server.url }),
      "(image encoder image-synthetic, text encoder text-synthetic); these are of head",
    );
    await ensureTable(sql, "narrow", 8);
    await rejectsWith(
      () => indexCollection({ ...o, url: server.url, table: "narrow" }),
      "holds 8-wide embeddings, these are 16-wide",
    );
    await sql`CREATE TABLE foreign_one (a int)`;
    await rejectsWith(
      () => indexCollection({ ...o, url: server.url, table: "foreign_one" }),
      "table foreign_one exists but is not a collection table",
    );
    assert.equal((await readTable(sql, "cxr_studies"))?.rows, 1, "a refused run wrote nothing");
    await sql.end();

    await rejectsWith(() => PgvectorIndex.open(server.url, { table: "absent" }), "no table absent");
    await rejectsWith(
      () => PgvectorIndex.open(server.url, { expect: { ...ids, head: "0".repeat(64), dim: 16 } }),
      "holds embeddings of head",
    );
  } finally {
    for (const f of [files, other]) await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("parseWhere: the filters it knows, and a clear error for others", () => {
  assert.deepEqual(parseWhere(["label=normal", "split=validation", "patient!=a=b"]), {
    label: "normal",
    split: "validation",
    excludePatient: "a=b",
  });
  for (const bad of ["label=sick", "patient=p1", "site=x", "split=dev"]) {
    assert.throws(() => parseWhere([bad]), new RegExp(`--where "${bad}": expected label=`));
  }
});
