/**
 * PostgreSQL + pgvector beside the GPU exact index, at PGVECTOR_BENCH_ROWS (default 100,000)
 * SYNTHETIC projected studies of 256-d unit vectors (image and report): the bulk load (rows/s,
 * then the report column's HNSW build) is timed once and printed; the benches are incremental
 * ingestion (500-row transactions into the indexed table) and top-10 queries per second, the GPU's exact
 * similarity + top-k as the baseline and pgvector HNSW at several ef_search, each named with
 * its recall@10 against the exact top-10 (float64 on the CPU). The engine is PGlite (PostgreSQL
 * 18 in WASM, pgvector 0.8.7) over its socket on loopback, in this process. At 100,000 rows it
 * takes about 15 minutes on a loaded 2-core machine, mostly the HNSW build.
 *
 * @module
 */

import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { tryGetGpu } from "../src/gpu/context.ts";
import { similarityForward } from "../src/ops/similarity.ts";
import { topK } from "../src/ops/retrieval.ts";
import { connect } from "../src/retrieval/pg_connection.ts";
import { PgvectorIndex } from "../src/retrieval/pgvector_index.ts";
import { createHnswIndexes, ensureTable } from "../src/retrieval/pgvector_schema.ts";
import { type StudyRow, upsertStudies } from "../src/retrieval/pgvector_write.ts";
import { startPglite } from "../tests/util/pglite_server.ts";
import { benchGpu, benchThroughput } from "./util/throughput.ts";

const n = Number(Deno.env.get("PGVECTOR_BENCH_ROWS") ?? 100_000);
const dim = 256, k = 10, queries = 64, batch = 500, table = "bench_studies";
const identity = { imageEncoder: "image-bench", textEncoder: "text-bench", head: "bench" };

/** Unit rows, in place. */
function normalizeRows(x: Float32Array): Float32Array<ArrayBuffer> {
  for (let r = 0; r < x.length / dim; r++) {
    const row = x.subarray(r * dim, (r + 1) * dim);
    const norm = Math.hypot(...row);
    for (let j = 0; j < dim; j++) row[j] /= norm;
  }
  return x as Float32Array<ArrayBuffer>;
}

// A shared latent per pair seen through two random maps plus noise (syntheticEmbeddings); the
// last rows are queries of two kinds: report-like vectors (other draws of the reports'
// distribution, as a trained head puts an image near its report), and the untrained cross-modal
// case (image vectors, near chance similarity to every report), where HNSW finds little to follow.
const set = syntheticEmbeddings({
  count: n + queries,
  dim,
  latent: 32,
  noise: 0.5,
  validation: 0,
  test: 0,
  seed: 7,
});
const image = normalizeRows(set.image), text = normalizeRows(set.text);
const queryKinds = [
  ["report-like", text.slice(n * dim)],
  ["cross-modal", image.slice(n * dim)],
] as const;

function rowsOf(start: number, end: number, keyPrefix: string): StudyRow[] {
  return Array.from({ length: end - start }, (_, j) => {
    const r = start + j;
    return {
      key: `${keyPrefix}${r}`,
      id: `study-${keyPrefix}${r}`,
      row: r,
      patientId: `patient-${r >> 1}`,
      split: "train",
      label: set.label[r] === 1 ? "abnormal" : "normal",
      findings: [],
      report: `SYNTHETIC report ${r}`,
      imagePaths: [],
      image: image.subarray(r * dim, (r + 1) * dim),
      text: text.subarray(r * dim, (r + 1) * dim),
    };
  });
}

const server = await startPglite();
const sql = await connect(server.url, { onNotice: console.warn });
await ensureTable(sql, table, dim);
let t0 = performance.now();
for (let start = 0; start < n; start += batch) {
  await upsertStudies(sql, table, rowsOf(start, Math.min(start + batch, n), ""), identity);
}
const loadSeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
// Only the searched column: the image column's build costs as much again.
await createHnswIndexes(sql, table, { memory: "512MB", columns: ["text"] });
const buildSeconds = (performance.now() - t0) / 1000;
console.log(
  `pgvector bulk load of ${n} rows (2 x ${dim}-d): ${(n / loadSeconds).toFixed(0)} rows/s ` +
    `(${loadSeconds.toFixed(1)} s in ${batch}-row transactions), then the report column's HNSW ` +
    `index (m 16, ef_construction 64) in ${buildSeconds.toFixed(1)} s`,
);

/** Exact top-k rows of every query against the reports, in float64. */
function exactTopK(query: Float32Array): number[][] {
  return Array.from({ length: queries }, (_, q) => {
    const v = query.subarray(q * dim, (q + 1) * dim), best: [number, number][] = [];
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += v[j] * text[r * dim + j];
      if (best.length < k || s > best[k - 1][0]) {
        best.push([s, r]);
        best.sort((a, b) => b[0] - a[0]);
        best.length = Math.min(best.length, k);
      }
    }
    return best.map(([, r]) => r);
  });
}

const index = await PgvectorIndex.open(server.url, { table });
const gpu = await tryGetGpu();
if (!gpu) console.warn("no WebGPU adapter: the GPU exact index is not measured");
for (const [kind, query] of queryKinds) {
  const group = `top-${k} of ${n} projected reports, ${queries} ${kind} queries a call`;
  const exact = exactTopK(query);
  for (const efSearch of [40, 100, 200]) {
    const hits = await index.search("text", query, queries, k, { efSearch });
    const found = hits.reduce(
      (s, list, q) => s + list.filter((h) => exact[q].includes(h.row)).length,
      0,
    );
    benchThroughput({
      name: `pgvector HNSW ef_search=${efSearch} (recall@10 ${(found / (queries * k)).toFixed(3)})`,
      group,
      work: { items: queries, unit: "queries" },
      n: 3,
      warmup: 1,
      fn: async () => {
        await index.search("text", query, queries, k, { efSearch });
      },
    });
  }
  benchGpu({
    name: "GPU exact similarity + top-k (recall@10 1)",
    group,
    reps: 1,
    work: { items: queries, unit: "queries" },
    build: (gpu) => {
      const scores = gpu.storage(queries * n, "scores");
      const logScale = gpu.storage(new Float32Array([0])); // scale 1: scores are cosines
      const shape = { rows: queries, cols: n, dim };
      const reports = gpu.storage(text.subarray(0, n * dim));
      return [
        ...similarityForward(gpu, gpu.storage(query), reports, logScale, scores, shape),
        ...topK(gpu, scores, gpu.storage(queries * k), gpu.storage(queries * k), { ...shape, k }),
      ];
    },
  });
}

let added = 0;
benchThroughput({
  name: `pgvector ingestion, ${batch}-row transactions into the indexed table`,
  group: `pgvector ingestion at ${n} rows`,
  work: { items: batch, unit: "rows" },
  n: 5,
  warmup: 1,
  fn: async () => {
    const start = (added++ * batch) % n;
    await upsertStudies(sql, table, rowsOf(start, start + batch, `more-${added}-`), identity);
  },
});

globalThis.addEventListener("unload", () => {
  // The throughput table prints on unload too; the engine stops with the process.
  void index.close().then(() => sql.end()).then(() => server.stop());
});
