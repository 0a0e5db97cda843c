/**
 * The PostgreSQL table of a projected collection: one row per study, keyed by a content hash,
 * with its projected image and report embeddings (pgvector `vector(D)`, unit rows) and what a
 * reader needs (id, patient, split, label, findings, report, image paths), plus what wrote it
 * (encoder ids, head hash) so that one table never mixes two embedding spaces. Each embedding
 * column gets an HNSW index on cosine distance.
 *
 * Table and index names are identifiers, which SQL cannot bind: they are checked against
 * {@link TABLE_NAME} and quoted by the client; every value is a bound parameter.
 *
 * @module
 */

import type { Tower } from "../model/head_graph.ts";
import type { Sql } from "./pg_connection.ts";

/** The table `deno task index` writes when no `--table` is given. */
export const DEFAULT_TABLE = "cxr_studies";

/** Table names we accept: lower-case, digits and underscores, room for the index suffixes. */
export const TABLE_NAME = /^[a-z_][a-z0-9_]{0,49}$/;

/** The embedding columns, by what they hold. */
export const EMBEDDING_COLUMNS = { image: "image_embedding", text: "report_embedding" } as const;

/** What wrote a table's embeddings: rows of two identities are never mixed. */
export interface TableIdentity {
  /** Image encoder id (`__metadata__.image_encoder` of the collection), or "unrecorded". */
  imageEncoder: string;
  /** Text encoder id, or "unrecorded". */
  textEncoder: string;
  /** SHA-256 of the projection head (see `headHash`). */
  head: string;
}

/** What a table holds. */
export interface TableState {
  /** Width of its embeddings. */
  dim: number;
  /** Rows. */
  rows: number;
  /** What wrote its rows; null while it has none. */
  identity: TableIdentity | null;
}

/**
 * Throws unless `name` is a table name we write (see {@link TABLE_NAME}).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * checkTableName("cxr_studies"); // passes
 * assert.throws(() => checkTableName("x; DROP TABLE y"), /--table "x; DROP TABLE y"/);
 * ```
 */
export function checkTableName(name: string): void {
  if (!TABLE_NAME.test(name)) {
    throw new Error(
      `--table "${name}": a table name must be 1-50 lower-case letters, digits or underscores, ` +
        `not starting with a digit`,
    );
  }
}

/**
 * Creates the pgvector extension (when absent) and the table for `dim`-wide embeddings (when
 * absent), with an index on the study id. The HNSW indexes come later ({@link createHnswIndexes}):
 * building them once over the loaded rows is faster than growing them row by row.
 * @example
 * ```ts
 * import { connect } from "./pg_connection.ts";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * await using server = await startPglite();
 * const sql = await connect(server.url);
 * await ensureTable(sql, "cxr_studies", 128);
 * await readTable(sql, "cxr_studies"); // { dim: 128, rows: 0, identity: null }
 * await sql.end();
 * ```
 */
export async function ensureTable(sql: Sql, table: string, dim: number): Promise<void> {
  checkTableName(table);
  if (!(Number.isInteger(dim) && dim >= 1 && dim <= 16_000)) {
    throw new RangeError(
      `table ${table}: embedding width must be an integer in 1..16000, is ${dim}`,
    );
  }
  await sql`CREATE EXTENSION IF NOT EXISTS vector`;
  // The width is a checked integer: a type modifier cannot be a bound parameter.
  const vector = sql.unsafe(`vector(${dim})`);
  await sql`
    CREATE TABLE IF NOT EXISTS ${sql(table)} (
      key text PRIMARY KEY,
      id text NOT NULL,
      row_index integer NOT NULL,
      patient_id text,
      split text NOT NULL,
      label text NOT NULL,
      findings text[] NOT NULL,
      report text,
      image_paths text[] NOT NULL,
      image_encoder text NOT NULL,
      text_encoder text NOT NULL,
      head_sha256 text NOT NULL,
      image_embedding ${vector} NOT NULL,
      report_embedding ${vector} NOT NULL
    )`;
  await sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_id`)} ON ${sql(table)} (id)`;
}

/** Options of {@link createHnswIndexes}. */
export interface HnswBuildOptions {
  /**
   * `maintenance_work_mem` for the builds, e.g. "1GB" (default: the server's). pgvector builds
   * far faster while the graph fits in it, and sends a notice when it stops fitting.
   */
  memory?: string;
  /** The embedding columns to index, by what they hold (default both). */
  columns?: readonly Tower[];
}

/**
 * Builds the HNSW indexes (cosine distance; pgvector's m 16, ef_construction 64) of both
 * embedding columns, where absent, each in its own transaction; returns the names of those it
 * built.
 * @example
 * ```ts
 * import { connect } from "./pg_connection.ts";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * await using server = await startPglite();
 * const sql = await connect(server.url);
 * await ensureTable(sql, "cxr_studies", 4);
 * await createHnswIndexes(sql, "cxr_studies", { memory: "256MB" }); // ["cxr_studies_image_hnsw", "cxr_studies_report_hnsw"]
 * await createHnswIndexes(sql, "cxr_studies"); // []: both exist
 * await sql.end();
 * ```
 */
export async function createHnswIndexes(
  sql: Sql,
  table: string,
  options: HnswBuildOptions = {},
): Promise<string[]> {
  checkTableName(table);
  const built: string[] = [];
  for (const tower of options.columns ?? ["image", "text"] as const) {
    const column = EMBEDDING_COLUMNS[tower];
    const name = `${table}_${tower === "image" ? "image" : "report"}_hnsw`;
    const [{ exists }] = await sql<{ exists: boolean }[]>`
      SELECT to_regclass(${name}) IS NOT NULL AS exists`;
    if (exists) continue;
    await sql.begin(async (tx) => {
      if (options.memory) {
        await tx`SELECT set_config('maintenance_work_mem', ${options.memory}, true)`;
      }
      await tx`
        CREATE INDEX IF NOT EXISTS ${tx(name)}
        ON ${tx(table)} USING hnsw (${tx(column)} vector_cosine_ops)`;
    });
    built.push(name);
  }
  return built;
}

/**
 * The table's width, row count and identity; null when there is no such table. Throws when a
 * table of that name exists but is not a collection table.
 * @example
 * ```ts
 * import { connect } from "./pg_connection.ts";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * await using server = await startPglite();
 * const sql = await connect(server.url);
 * await readTable(sql, "cxr_studies"); // null: not written yet
 * await sql.end();
 * ```
 */
export async function readTable(sql: Sql, table: string): Promise<TableState | null> {
  checkTableName(table);
  const columns = await sql<{ name: string; typmod: number; type: string }[]>`
    SELECT a.attname AS name, a.atttypmod AS typmod, format_type(a.atttypid, NULL) AS type
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(${table}) AND a.attnum > 0 AND NOT a.attisdropped`;
  if (columns.length === 0) return null;
  const byName = new Map(columns.map((c) => [c.name, c]));
  const need = ["key", "id", "head_sha256", "image_embedding", "report_embedding"];
  const missing = need.filter((n) => !byName.has(n));
  const image = byName.get("image_embedding");
  if (missing.length > 0 || image?.type !== "vector") {
    throw new Error(
      `table ${table} exists but is not a collection table (it lacks ${
        missing.join(", ") || "a vector image_embedding column"
      }); choose another --table`,
    );
  }
  const [{ rows }] = await sql<{ rows: number }[]>`
    SELECT count(*)::int AS rows FROM ${sql(table)}`;
  const [first] = await sql<{ image_encoder: string; text_encoder: string; head: string }[]>`
    SELECT image_encoder, text_encoder, head_sha256 AS head FROM ${sql(table)} LIMIT 1`;
  const identity = first
    ? { imageEncoder: first.image_encoder, textEncoder: first.text_encoder, head: first.head }
    : null;
  return { dim: image.typmod, rows, identity };
}

/**
 * Throws, naming both, when a table written by other encoders, another head or for another
 * width is about to receive rows (or answer queries) of `expected`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const ours = { imageEncoder: "image-a", textEncoder: "text-b", head: "0123abcd" };
 * const state = { dim: 128, rows: 10, identity: ours };
 * checkTableIdentity(state, { ...ours, dim: 128 }, "cxr_studies at db:5432/x"); // passes
 * assert.throws(
 *   () => checkTableIdentity(state, { ...ours, head: "ffff0000", dim: 128 }, "cxr_studies"),
 *   /cxr_studies holds embeddings of head 0123abcd/,
 * );
 * ```
 */
export function checkTableIdentity(
  state: TableState,
  expected: TableIdentity & { dim: number },
  where: string,
): void {
  if (state.dim !== expected.dim) {
    throw new Error(
      `${where} holds ${state.dim}-wide embeddings, these are ${expected.dim}-wide (another ` +
        `head); write to another --table`,
    );
  }
  const found = state.identity;
  if (!found) return;
  const differs = (["imageEncoder", "textEncoder", "head"] as const)
    .filter((k) => found[k] !== expected[k]);
  if (differs.length === 0) return;
  const describe = (i: TableIdentity) =>
    `head ${i.head.slice(0, 16)} (image encoder ${i.imageEncoder}, text encoder ${i.textEncoder})`;
  throw new Error(
    `${where} holds embeddings of ${describe(found)}; these are of ${describe(expected)}. ` +
      `One table holds one embedding space: write to another --table, or use the checkpoint and ` +
      `collection it was written with`,
  );
}
