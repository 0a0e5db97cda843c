import assert from "node:assert/strict";
import type { GpuContext } from "../src/gpu/context.ts";
import { initialParameters } from "../src/model/init.ts";
import { ParameterLayout } from "../src/model/parameters.ts";
import { Projector } from "../src/model/projector.ts";
import { queriesPerChunk, Retriever } from "../src/retrieval/retriever.ts";
import { gpuTest, Rng } from "./util/check.ts";

const head = { inDim: 24, hidden: 16, outDim: 8, layers: 2, dropout: 0.1 };

/** A projector with seeded random heads, and `count` random frozen embeddings. */
function setup(gpu: GpuContext) {
  const rng = new Rng(4);
  const norm = {
    image: { mean: new Float32Array(24), std: new Float32Array(24).fill(2) },
    text: { mean: new Float32Array(24).fill(0.5), std: new Float32Array(24).fill(1) },
  };
  const projector = new Projector(gpu, head, initialParameters(new ParameterLayout(head), 3), norm);
  const embeddings = (count: number) =>
    Float32Array.from({ length: count * head.inDim }, () => rng.normal());
  return { projector, embeddings };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `report-${i}`);

gpuTest(
  "Retriever: top-k reports for an image equal a CPU ranking of projected cosines",
  async (gpu) => {
    const { projector, embeddings } = setup(gpu);
    const n = 70;
    const reports = embeddings(n);
    using retriever = await Retriever.create(projector, "text", reports, ids(n));
    const image = embeddings(2);
    const hits = await retriever.queryBatch(image, 2, 5);

    const zt = await projector.project("text", reports, n);
    const zi = await projector.project("image", image, 2);
    for (let q = 0; q < 2; q++) {
      const scores = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let d = 0; d < 8; d++) s += zi[q * 8 + d] * zt[j * 8 + d];
        return s;
      });
      const order = scores.map((s, j) => [s, j]).sort((a, b) => b[0] - a[0]).slice(0, 5);
      assert.deepEqual(hits[q].map((h) => h.index), order.map(([, j]) => j));
      hits[q].forEach((h, k) => {
        assert.equal(h.id, `report-${h.index}`);
        assert.ok(Math.abs(h.score - order[k][0]) < 1e-4, `score ${h.score} vs ${order[k][0]}`);
      });
    }
    await assert.rejects(
      () => retriever.query(image.slice(0, 24), 71),
      /Retriever\.queryBatch: k must be an integer in 1\.\.64, got 71/,
    );
    await assert.rejects(
      () => retriever.queryBatch(image, 3, 5),
      /queries must be \[count = 3, inDim = 24\], got 48 values/,
    );
    // Queries projected beforehand (a search backend's) give the same hits, bit for bit.
    const projected = await retriever.queryProjected(zi as Float32Array<ArrayBuffer>, 2, 5);
    assert.deepEqual(projected, hits);
    await assert.rejects(
      () => retriever.queryProjected(image, 2, 5),
      /Retriever\.queryProjected: queries must be \[count = 2, outDim = 8\], got 48 values/,
    );
    image[24 + 7] = NaN;
    await assert.rejects(
      () => retriever.queryBatch(image, 2, 5),
      /Retriever\.queryBatch: query 1 has a non-finite value \(NaN\) at column 7/,
    );
  },
);

gpuTest(
  "Retriever: queryBatch in chunks of 3 queries equals one submit, ties by index",
  async (gpu) => {
    const { projector, embeddings } = setup(gpu);
    // Items 35..69 repeat items 0..34: every score has an exact tie.
    const half = embeddings(35), reports = new Float32Array(70 * head.inDim);
    reports.set(half);
    reports.set(half, half.length);
    const queries = embeddings(11);
    // Each chunk uploads its own queries: record the chunk sizes.
    const storage = gpu.storage.bind(gpu), chunks: number[] = [];
    gpu.storage = (data, label) => {
      if (label === "image queries" && typeof data !== "number") {
        chunks.push(data.length / head.inDim);
      }
      return storage(data, label);
    };
    using whole = await Retriever.create(projector, "text", reports, ids(70));
    using split = await Retriever.create(projector, "text", reports, ids(70), {
      maxQueriesPerChunk: 3,
    });
    assert.ok(whole.queriesPerChunk >= 11, `default chunk ${whole.queriesPerChunk}`);
    assert.equal(split.queriesPerChunk, 3);
    let expected, again;
    try {
      expected = await whole.queryBatch(queries, 11, 10);
      again = await split.queryBatch(queries, 11, 10);
    } finally {
      gpu.storage = storage;
    }
    assert.deepEqual(again, expected);
    assert.deepEqual(chunks, [11, 3, 3, 3, 2]);
    assert.equal(expected.length, 11);
    let ties = 0;
    for (const hits of expected) {
      for (let r = 1; r < hits.length; r++) {
        assert.ok(hits[r].score <= hits[r - 1].score, "best first");
        if (hits[r].score === hits[r - 1].score) {
          assert.ok(hits[r].index > hits[r - 1].index, "equal scores by lower index first");
          ties++;
        }
      }
    }
    assert.ok(ties >= 11 * 4, `only ${ties} ties`);
    assert.deepEqual(await split.queryBatch(new Float32Array(0), 0, 1), []);
  },
);

gpuTest(
  "Retriever: a collection scored in shards gives the hits of one pass (ties, NaN, short tail)",
  async (gpu) => {
    const { projector, embeddings } = setup(gpu);
    // Items 150..299 repeat items 0..149; shards of 64 leave a tail of 44, fewer than k = 50.
    const half = embeddings(150), reports = new Float32Array(300 * head.inDim);
    reports.set(half);
    reports.set(half, half.length);
    const queries = embeddings(5);
    using whole = await Retriever.create(projector, "text", reports, ids(300));
    using shards = await Retriever.create(projector, "text", reports, ids(300), {
      maxItemsPerShard: 64,
    });
    const expected = await whole.queryBatch(queries, 5, 50);
    assert.deepEqual(await shards.queryBatch(queries, 5, 50), expected);
    assert.ok(
      expected.every((hits) => hits.some((h, r) => r > 0 && h.score === hits[r - 1].score)),
    );
    const z = await projector.project("text", reports, 300);
    using stored = await Retriever.fromProjections(projector, "text", z, ids(300), {
      maxItemsPerShard: 100, // rounded down to 64
    });
    assert.deepEqual(await stored.queryBatch(queries, 5, 50), expected);

    // 10 finite items among 130: the non-finite ones follow them, by index, across shards.
    const broken = embeddings(130);
    for (let i = 0; i < 130; i++) if (i % 13 !== 5) broken[i * head.inDim] = NaN;
    using a = await Retriever.create(projector, "text", broken, ids(130));
    using b = await Retriever.create(projector, "text", broken, ids(130), { maxItemsPerShard: 64 });
    const hits = await b.queryBatch(queries, 5, 20);
    assert.deepEqual(hits, await a.queryBatch(queries, 5, 20));
    for (const list of hits) {
      assert.deepEqual(list.slice(10).map((h) => h.index), [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
      assert.ok(list.slice(0, 10).every((h) => h.index % 13 === 5 && Number.isFinite(h.score)));
    }
    await assert.rejects(
      () => Retriever.create(projector, "text", reports, ids(300), { maxItemsPerShard: 0.5 }),
      /Retriever\.create: maxItemsPerShard must be an integer >= 1, got 0\.5/,
    );
  },
);

gpuTest("Retriever: dispose frees it once, queries after it throw, using disposes", async (gpu) => {
  const { projector, embeddings } = setup(gpu);
  const reports = embeddings(8), image = embeddings(1);
  let kept: Retriever;
  {
    using retriever = await Retriever.create(projector, "text", reports, ids(8));
    kept = retriever;
    assert.equal((await retriever.query(image, 3)).length, 3);
  }
  await assert.rejects(
    () => kept.query(image, 3),
    /Retriever\.queryBatch: this Retriever was disposed \(its GPU buffers are freed\)/,
  );
  kept.dispose();
  kept[Symbol.dispose]();
  // The projector is the caller's: a new Retriever on it still answers, the same way.
  const again = await Retriever.create(projector, "text", reports, ids(8));
  assert.equal((await again.query(image, 3)).length, 3);
  again.dispose();
  await assert.rejects(() => again.queryBatch(image, 1, 1), /was disposed/);
  await assert.rejects(
    () => Retriever.create(projector, "text", new Float32Array(0), []),
    /Retriever\.create: the collection is empty/,
  );
  await assert.rejects(
    () => Retriever.create(projector, "text", reports, ids(8), { maxQueriesPerChunk: 0 }),
    /Retriever\.create: maxQueriesPerChunk must be an integer >= 1, got 0/,
  );
});

Deno.test("queriesPerChunk: the binding, buffer and grid limits bound a chunk", () => {
  const limits = {
    maxStorageBufferBindingSize: 2 ** 20,
    maxBufferSize: 2 ** 28,
    maxComputeWorkgroupsPerDimension: 65_535,
  };
  const dims = { inDim: 512, outDim: 256 };
  assert.equal(queriesPerChunk(limits, 1000, dims), 262); // 4,000 bytes of scores a row
  assert.equal(queriesPerChunk(limits, 100, dims), 512); // the 512-wide embeddings
  assert.equal(queriesPerChunk({ ...limits, maxBufferSize: 2 ** 16 }, 1000, dims), 16);
  // 8² = 64 workgroups cover 64 rows of 4 scores.
  assert.equal(queriesPerChunk({ ...limits, maxComputeWorkgroupsPerDimension: 8 }, 16, dims), 16);
  assert.throws(
    () => queriesPerChunk({ ...limits, maxComputeWorkgroupsPerDimension: 8 }, 260, dims),
    /retriever: one query's 260 scores need up to 65 workgroups, more than 8²/,
  );
  assert.throws(
    () => queriesPerChunk(limits, 300_000, dims),
    /retriever: one query needs 1200000 bytes per buffer \(300000 items, inDim 512, outDim 256\); the device binds at most 1048576/,
  );
});
