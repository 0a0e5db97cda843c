/**
 * Writing a projected collection into PostgreSQL + pgvector (`deno task index`): each study's
 * image and report embeddings go through the trained heads on the GPU, and the unit rows and the
 * study's facts are upserted in batches, one transaction per batch, keyed by a content hash. A
 * run killed at any point and run again ends with every study once: committed batches are found
 * by their keys and skipped, the batch in flight was rolled back by the server.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { getGpu, type GpuContext } from "../gpu/context.ts";
import { type EmbeddingSet, loadEmbeddings, selectRows, type SplitName } from "../io/embeddings.ts";
import { type Checkpoint, loadCheckpoint } from "../model/checkpoint.ts";
import { Projector } from "../model/projector.ts";
import { connect, describeServer, type Sql } from "./pg_connection.ts";
import {
  checkTableIdentity,
  checkTableName,
  createHnswIndexes,
  DEFAULT_TABLE,
  ensureTable,
  readTable,
  type TableIdentity,
} from "./pgvector_schema.ts";
import { SPLIT_NAMES } from "./search_index.ts";

/** Version of the content hash; part of every key. */
export const STUDY_KEY_VERSION = "cxr-study-row/1";

/** Studies per transaction when none is given. */
export const DEFAULT_BATCH_SIZE = 500;

/** One study as a table row: its facts and its projected, unit-length embeddings. */
export interface StudyRow {
  /** Content hash ({@link studyKeys}): the primary key. */
  key: string;
  /** Study id. */
  id: string;
  /** Its row in the collection file. */
  row: number;
  /** Patient id; null when the collection keeps no study facts. */
  patientId: string | null;
  /** Split. */
  split: SplitName;
  /** Label. */
  label: "normal" | "abnormal";
  /** Finding tags. */
  findings: string[];
  /** Report text; null when the collection keeps none. */
  report: string | null;
  /** Image files. */
  imagePaths: string[];
  /** Projected image embedding [dim]. */
  image: Float32Array;
  /** Projected report embedding [dim]. */
  text: Float32Array;
}

/**
 * SHA-256 (hex) of what a projection depends on: the head configuration, its parameters and its
 * input standardization. Two checkpoint files holding the same head (a copy, `best` and the
 * epoch it was taken from) hash alike; optimizer state and training position do not count.
 * @example
 * ```ts
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 * const norm = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
 * const best = { metric: "mean_recall", value: 0.5, epoch: 0 };
 * const position = { epoch: 1, stepInEpoch: 0, optimizerStep: 10, best, epochsWithoutImprovement: 0 };
 * const params = initialParameters(new ParameterLayout(head), 42);
 * const c = { head, config: {}, position, params, inputNorm: { image: norm, text: norm } };
 * headHash(c) === headHash({ ...c, position: { ...position, epoch: 7 } }); // true
 * ```
 */
export function headHash(c: Checkpoint): string {
  const h = createHash("sha256").update(JSON.stringify(c.head));
  const { image, text } = c.inputNorm;
  for (const a of [c.params, image.mean, image.std, text.mean, text.std]) h.update(bytesOf(a));
  return h.digest("hex");
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The content hash of every row of `set` written under `identity`: the row's id, position,
 * label, split, study facts and frozen embeddings, and the encoders and head that project them.
 * Equal keys mean equal rows, so a rerun recognizes what is already written.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * const o = { count: 3, dim: 4, latent: 2, noise: 0.1, validation: 0, test: 0, seed: 1 };
 * const identity = { imageEncoder: "image-a", textEncoder: "text-b", head: "0123" };
 * const keys = studyKeys(syntheticEmbeddings(o), identity); // 3 hex SHA-256s
 * keys[0] === studyKeys(syntheticEmbeddings(o), identity)[0]; // true: content, not chance
 * ```
 */
export function studyKeys(set: EmbeddingSet, identity: TableIdentity): string[] {
  const { dim } = set;
  return set.ids.map((id, i) => {
    const facts = [
      STUDY_KEY_VERSION,
      identity.imageEncoder,
      identity.textEncoder,
      identity.head,
      id,
      i,
      set.label[i],
      set.split[i],
      set.studies?.[i] ?? null,
    ];
    return createHash("sha256")
      .update(JSON.stringify(facts))
      .update(bytesOf(set.image.subarray(i * dim, (i + 1) * dim)))
      .update(bytesOf(set.text.subarray(i * dim, (i + 1) * dim)))
      .digest("hex");
  });
}

/**
 * pgvector's text form of a float32 vector, `[v0,v1,…]`. Nine significant digits give back every
 * float32 exactly, so the stored vector is the projection bit for bit.
 * @example
 * ```ts
 * vectorLiteral(new Float32Array([0.1, -2, 1e-8])); // "[0.100000001,-2.00000000,9.99999994e-9]"
 * ```
 */
export function vectorLiteral(values: Float32Array): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) parts[i] = values[i].toPrecision(9);
  return `[${parts.join(",")}]`;
}

/**
 * Writes `rows` into `table` in one transaction: rows whose key is already there are left as they
 * are; a study whose content changed (same id, another key) loses its old row. Returns the number
 * of rows inserted. Every value travels as a bound parameter (one array per column).
 * @example
 * ```ts
 * import { connect } from "./pg_connection.ts";
 * import { ensureTable } from "./pgvector_schema.ts";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * await using server = await startPglite();
 * const sql = await connect(server.url);
 * await ensureTable(sql, "cxr_studies", 2);
 * const identity = { imageEncoder: "image-a", textEncoder: "text-b", head: "0123" };
 * const row = {
 *   key: "k1", id: "s1", row: 0, patientId: "p1", split: "test" as const, label: "abnormal" as const,
 *   findings: ["Effusion"], report: "Small left effusion.", imagePaths: ["s1.png"],
 *   image: new Float32Array([1, 0]), text: new Float32Array([0.6, 0.8]),
 * };
 * await upsertStudies(sql, "cxr_studies", [row], identity); // 1
 * await upsertStudies(sql, "cxr_studies", [row], identity); // 0: already there
 * await sql.end();
 * ```
 */
export async function upsertStudies(
  sql: Sql,
  table: string,
  rows: StudyRow[],
  identity: TableIdentity,
): Promise<number> {
  checkTableName(table);
  if (rows.length === 0) return 0;
  const column = <T>(f: (r: StudyRow) => T) => rows.map(f);
  const ids = column((r) => r.id), keys = column((r) => r.key);
  return await sql.begin(async (tx) => {
    await tx`DELETE FROM ${tx(table)} WHERE id = ANY(${ids}) AND NOT (key = ANY(${keys}))`;
    // One bound array per column; the ragged lists travel as one JSON array per row.
    const inserted = await tx`
      INSERT INTO ${tx(table)} (key, id, row_index, patient_id, split, label, findings, report,
        image_paths, image_encoder, text_encoder, head_sha256, image_embedding, report_embedding)
      SELECT r.key, r.id, r.row_index, r.patient_id, r.split, r.label,
        ARRAY(SELECT jsonb_array_elements_text(r.findings::jsonb)), r.report,
        ARRAY(SELECT jsonb_array_elements_text(r.image_paths::jsonb)),
        ${identity.imageEncoder}, ${identity.textEncoder}, ${identity.head},
        r.image_embedding::vector, r.report_embedding::vector
      FROM unnest(${keys}::text[], ${ids}::text[], ${column((r) => r.row)}::int[],
        ${column((r) => r.patientId)}::text[], ${column((r) => r.split)}::text[],
        ${column((r) => r.label)}::text[], ${column((r) => JSON.stringify(r.findings))}::text[],
        ${column((r) => r.report)}::text[], ${column((r) => JSON.stringify(r.imagePaths))}::text[],
        ${column((r) => vectorLiteral(r.image))}::text[],
        ${column((r) => vectorLiteral(r.text))}::text[])
        AS r(key, id, row_index, patient_id, split, label, findings, report, image_paths,
          image_embedding, report_embedding)
      ON CONFLICT (key) DO NOTHING`;
    return inserted.count;
  });
}

/** Options of {@link indexCollection}. */
export interface IndexOptions {
  /** `postgres://user@host[:port]/database`. */
  url: string;
  /** Projector checkpoint. */
  checkpoint: string;
  /** Embeddings file (`deno task embed`, `logs/<run>/embeddings.safetensors`). */
  collection: string;
  /** Table (default {@link DEFAULT_TABLE}). */
  table?: string;
  /** Studies per transaction (default {@link DEFAULT_BATCH_SIZE}). */
  batchSize?: number;
  /** `maintenance_work_mem` for the HNSW builds (see `createHnswIndexes`), e.g. "1GB". */
  buildMemory?: string;
  /** The GPU that projects (default: the process's). */
  gpu?: GpuContext;
  /** Called after each committed batch with the studies done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Receives the server's notices (pgvector's on index builds); dropped by default. */
  onNotice?: (message: string) => void;
}

/** What {@link indexCollection} did. */
export interface IndexReport {
  /** The table. */
  table: string;
  /** The server, without password (`user@host:port/database`). */
  server: string;
  /** Studies in the collection (= rows of this identity in the table afterwards). */
  studies: number;
  /** Rows inserted by this run. */
  written: number;
  /** Rows that were already there (a rerun). */
  present: number;
  /** Seconds spent writing rows (projection included). */
  writeSeconds: number;
  /** The HNSW indexes this run built ([] when they existed). */
  indexesBuilt: string[];
  /** Seconds spent building them. */
  indexSeconds: number;
  /** The head's hash ({@link headHash}). */
  head: string;
}

/**
 * Projects a collection with a checkpoint's heads and writes it into a pgvector table
 * (`deno task index`): creates the extension and the table when absent, refuses a table written
 * by other encoders, another head or at another width, upserts the studies in transactions of
 * `batchSize`, then builds the HNSW indexes. An unreachable server fails before any work with an
 * error naming it. Rerunning it is safe and cheap: written batches are skipped.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * import { writeDemoLikeCollection } from "../../tests/util/pgvector_fixture.ts";
 * if (await tryGetGpu()) {
 *   await using server = await startPglite();
 *   const files = await writeDemoLikeCollection({ count: 40 }); // checkpoint + embeddings file
 *   const report = await indexCollection({ url: server.url, ...files, batchSize: 16 });
 *   report.written; // 40; run again: 0 written, 40 present
 *   await Deno.remove(files.dir, { recursive: true });
 * }
 * ```
 */
export async function indexCollection(o: IndexOptions): Promise<IndexReport> {
  const table = o.table ?? DEFAULT_TABLE, batchSize = o.batchSize ?? DEFAULT_BATCH_SIZE;
  checkTableName(table);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(`--batch-size must be an integer >= 1, got ${batchSize}`);
  }
  const server = describeServer(o.url);
  const checkpoint = await loadCheckpoint(o.checkpoint);
  const set = await loadEmbeddings(o.collection);
  if (checkpoint.head.inDim !== set.dim) {
    throw new Error(
      `${o.checkpoint}: the heads take ${checkpoint.head.inDim}-wide embeddings, ` +
        `${o.collection} holds ${set.dim}-wide ones; use a checkpoint trained on its encoder`,
    );
  }
  checkUniqueIds(set, o.collection);
  const identity: TableIdentity = {
    imageEncoder: set.metadata.image_encoder ?? "unrecorded",
    textEncoder: set.metadata.text_encoder ?? "unrecorded",
    head: headHash(checkpoint),
  };
  const keys = studyKeys(set, identity);
  const sql = await connect(o.url, { onNotice: o.onNotice });
  try {
    const where = `table ${table} at ${server}`;
    const state = await readTable(sql, table);
    if (state) checkTableIdentity(state, { ...identity, dim: checkpoint.head.outDim }, where);
    await ensureTable(sql, table, checkpoint.head.outDim);
    const gpu = o.gpu ?? await getGpu();
    const projector = new Projector(gpu, checkpoint.head, checkpoint.params, checkpoint.inputNorm);
    const t0 = performance.now();
    let written = 0, present = 0;
    for (let start = 0; start < set.count; start += batchSize) {
      const batch = keys.slice(start, start + batchSize);
      const there = new Set(
        (await sql<{ key: string }[]>`
          SELECT key FROM ${sql(table)} WHERE key = ANY(${batch})`).map((r) => r.key),
      );
      const todo = batch.flatMap((k, j) => there.has(k) ? [] : [start + j]);
      present += batch.length - todo.length;
      if (todo.length > 0) {
        const rows = await projectStudies(projector, set, Uint32Array.from(todo), keys);
        written += await upsertStudies(sql, table, rows, identity);
      }
      o.onProgress?.(Math.min(start + batchSize, set.count), set.count);
    }
    const writeSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const indexesBuilt = await createHnswIndexes(sql, table, { memory: o.buildMemory });
    const indexSeconds = (performance.now() - t1) / 1000;
    return {
      table,
      server,
      studies: set.count,
      written,
      present,
      writeSeconds,
      indexesBuilt,
      indexSeconds,
      head: identity.head,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Throws on the first id that two rows share: a study is one row. */
function checkUniqueIds(set: EmbeddingSet, source: string): void {
  const seen = new Map<string, number>();
  set.ids.forEach((id, i) => {
    const j = seen.get(id);
    if (j !== undefined) {
      throw new Error(`${source}: rows ${j} and ${i} share the id "${id}"; ids must be unique`);
    }
    seen.set(id, i);
  });
}

/** The table rows of the given collection rows, projected on the GPU. */
async function projectStudies(
  projector: Projector,
  set: EmbeddingSet,
  rows: Uint32Array,
  keys: string[],
): Promise<StudyRow[]> {
  const { dim } = set, n = rows.length, out = projector.head.outDim;
  const image = await projector.project("image", selectRows(set.image, rows, dim), n);
  const text = await projector.project("text", selectRows(set.text, rows, dim), n);
  return Array.from(rows, (r, j) => {
    const study = set.studies?.[r];
    return {
      key: keys[r],
      id: set.ids[r],
      row: r,
      patientId: study?.patientId ?? null,
      split: SPLIT_NAMES[set.split[r]],
      label: set.label[r] === 1 ? "abnormal" : "normal",
      findings: study?.findings ?? [],
      report: study?.report ?? null,
      imagePaths: study?.imagePaths ?? [],
      image: image.subarray(j * out, (j + 1) * out),
      text: text.subarray(j * out, (j + 1) * out),
    };
  });
}
