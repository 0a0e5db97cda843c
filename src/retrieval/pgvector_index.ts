/**
 * Search of a projected collection in PostgreSQL + pgvector (written by `deno task index`): the
 * k nearest studies of projected query vectors by cosine distance through the table's HNSW
 * index, with optional filters (label, split, a patient left out): the {@link SearchIndex}
 * backend for collections shared beyond one machine. Hits carry the same fields as the GPU exact
 * index's. Queries are projected, unit-length vectors: project them with the
 * checkpoint the table was written with (`Projector.project`), whose {@link TableIdentity}
 * `open` can check.
 *
 * HNSW is approximate: `efSearch` (pgvector's `hnsw.ef_search`, candidates kept per query)
 * trades speed for recall. With a filter, pgvector 0.8's iterative scan (strict order) keeps
 * searching the graph until k rows pass it (up to `hnsw.max_scan_tuples`, 20,000 by default).
 *
 * @module
 */

import type { SplitName } from "../io/embeddings.ts";
import type { Tower } from "../model/head_graph.ts";
import { connect, describeServer, type Sql, type TransactionSql } from "./pg_connection.ts";
import {
  checkTableIdentity,
  checkTableName,
  DEFAULT_TABLE,
  EMBEDDING_COLUMNS,
  readTable,
  type TableIdentity,
  type TableState,
} from "./pgvector_schema.ts";
import { vectorLiteral } from "./pgvector_write.ts";
import {
  checkQueries,
  hasFilter,
  type IndexSearchOptions,
  type SearchHit,
  type SearchIndex,
  type StudyFilter,
} from "./search_index.ts";

/** Options of {@link PgvectorIndex.search}. */
export interface PgSearchOptions extends IndexSearchOptions {
  /** `hnsw.ef_search` (1..1000, raised to k when lower; default: the index's, see `open`). */
  efSearch?: number;
}

/** `hnsw.ef_search` when none is given (pgvector's own default is 40). */
export const DEFAULT_EF_SEARCH = 100;

/** Options of {@link PgvectorIndex.open}. */
export interface PgOpenOptions {
  /** Table (default {@link DEFAULT_TABLE}). */
  table?: string;
  /** Refuse a table not written by these encoders and head, at this width. */
  expect?: TableIdentity & { dim: number };
  /** `hnsw.ef_search` of searches that give none (default {@link DEFAULT_EF_SEARCH}). */
  efSearch?: number;
}

interface HitRow {
  id: string;
  row_index: number;
  patient_id: string | null;
  split: SplitName;
  label: "normal" | "abnormal";
  findings: string[];
  report: string | null;
  image_paths: string[];
  score: number;
}

/**
 * A pgvector table opened for search. One connection, closed by {@link PgvectorIndex.close} (or
 * the end of an `await using` block).
 * @example
 * ```ts
 * import { connect } from "./pg_connection.ts";
 * import { createHnswIndexes, ensureTable } from "./pgvector_schema.ts";
 * import { upsertStudies } from "./pgvector_write.ts";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * await using server = await startPglite();
 * // Two studies with 2-wide projections (deno task index writes real ones).
 * const sql = await connect(server.url);
 * await ensureTable(sql, "cxr_studies", 2);
 * const identity = { imageEncoder: "image-a", textEncoder: "text-b", head: "0123" };
 * const study = (id: string, label: "normal" | "abnormal", v: number[]) => ({
 *   key: id, id, row: 0, patientId: `p-${id}`, split: "test" as const, label, findings: [],
 *   report: `report ${id}`, imagePaths: [], image: new Float32Array(v), text: new Float32Array(v),
 * });
 * await upsertStudies(sql, "cxr_studies", [study("s1", "normal", [1, 0]), study("s2", "abnormal", [0.6, 0.8])], identity);
 * await createHnswIndexes(sql, "cxr_studies");
 * await sql.end();
 *
 * await using index = await PgvectorIndex.open(server.url);
 * const [hits] = await index.search("text", new Float32Array([0, 1]), 1, 2); // reports for an image
 * hits.map((h) => h.id); // ["s2", "s1"]
 * const [abnormal] = await index.search("text", new Float32Array([1, 0]), 1, 2, {
 *   where: { label: "abnormal" },
 * });
 * abnormal.map((h) => h.id); // ["s2"]
 * ```
 */
export class PgvectorIndex implements SearchIndex {
  /** The table. */
  readonly table: string;
  /** The server, without password. */
  readonly server: string;
  /** Width, rows and identity when opened. */
  readonly state: TableState;
  /** `hnsw.ef_search` of searches that give none. */
  readonly efSearch: number;
  readonly #sql: Sql;

  private constructor(sql: Sql, table: string, server: string, state: TableState, ef: number) {
    this.#sql = sql;
    this.table = table;
    this.server = server;
    this.state = state;
    this.efSearch = ef;
  }

  /** Width of the projections. */
  get dim(): number {
    return this.state.dim;
  }

  /** Rows searched, as opened: one report and one image (its mean) per study. */
  get sizes(): Readonly<Record<Tower, number>> {
    return { text: this.state.rows, image: this.state.rows };
  }

  /**
   * Connects to `url` and opens the table; throws naming the server when it is unreachable or
   * has no such table, and naming both identities when `expect` differs from the table's.
   */
  static async open(url: string, options: PgOpenOptions = {}): Promise<PgvectorIndex> {
    const table = options.table ?? DEFAULT_TABLE, ef = options.efSearch ?? DEFAULT_EF_SEARCH;
    checkTableName(table);
    checkEfSearch(ef);
    const server = describeServer(url);
    const sql = await connect(url);
    try {
      const state = await readTable(sql, table);
      if (!state) {
        throw new Error(
          `no table ${table} at ${server}; write it with deno task index --to <url> --table ${table}`,
        );
      }
      if (options.expect) checkTableIdentity(state, options.expect, `table ${table} at ${server}`);
      return new PgvectorIndex(sql, table, server, state, ef);
    } catch (e) {
      await sql.end({ timeout: 0 });
      throw e;
    }
  }

  /**
   * The `k` nearest studies to each of `count` projected queries [count, dim] (unit rows), best
   * first, searching the table's images (`over` "image": queries are reports) or reports
   * ("text": queries are images). All queries run in one read-only transaction, pipelined.
   */
  async search(
    over: Tower,
    queries: Float32Array,
    count: number,
    k: number,
    options: PgSearchOptions = {},
  ): Promise<SearchHit[][]> {
    const dim = this.state.dim, ef = this.#efSearch(options, k);
    checkQueries("PgvectorIndex.search", queries, count, {
      name: "dim",
      width: dim,
      note: " (the table's width)",
    });
    if (count === 0) return [];
    const rows = await this.#sql.begin("read only", async (tx) => {
      await this.#configure(tx, ef, options.where);
      return await Promise.all(Array.from({ length: count }, (_, i) => {
        const q = queries.subarray(i * dim, (i + 1) * dim);
        return this.#nearest(tx, over, q, k, options.where ?? {});
      }));
    });
    return rows.map((list) => list.map((r, i) => toHit(r, i, over)));
  }

  /**
   * PostgreSQL's plan for one query (`EXPLAIN`): shows whether the HNSW index is used.
   * @example
   * ```ts
   * import { connect } from "./pg_connection.ts";
   * import { createHnswIndexes, ensureTable } from "./pgvector_schema.ts";
   * import { startPglite } from "../../tests/util/pglite_server.ts";
   * await using server = await startPglite();
   * const sql = await connect(server.url);
   * await ensureTable(sql, "cxr_studies", 2);
   * await createHnswIndexes(sql, "cxr_studies");
   * await sql.end();
   * await using index = await PgvectorIndex.open(server.url);
   * await index.explain("text", new Float32Array([1, 0]), 10); // "Limit … Index Scan using cxr_studies_report_hnsw …"
   * ```
   */
  async explain(
    over: Tower,
    query: Float32Array,
    k: number,
    options: PgSearchOptions = {},
  ): Promise<string> {
    const ef = this.#efSearch(options, k);
    return await this.#sql.begin("read only", async (tx) => {
      await this.#configure(tx, ef, options.where);
      const plan = await tx`EXPLAIN ${this.#nearest(tx, over, query, k, options.where ?? {})}`;
      return plan.map((r) => r["QUERY PLAN"]).join("\n");
    });
  }

  /**
   * Every image file of the table's studies, in row order (one query; a large archive's list is
   * large).
   */
  async imageFiles(): Promise<string[]> {
    const rows = await this.#sql<{ image_paths: string[] }[]>`
      SELECT image_paths FROM ${this.#sql(this.table)} ORDER BY row_index, id`;
    return rows.flatMap((r) => r.image_paths);
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }

  /** {@link PgvectorIndex.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The checked `hnsw.ef_search` for `k` hits. */
  #efSearch(options: PgSearchOptions, k: number): number {
    if (!(Number.isInteger(k) && k >= 1 && k <= 1000)) {
      throw new RangeError(`PgvectorIndex.search: k must be an integer in 1..1000, got ${k}`);
    }
    const ef = options.efSearch ?? this.efSearch;
    checkEfSearch(ef);
    return Math.max(ef, k);
  }

  /** Sets the transaction's HNSW search parameters (bound values, transaction-local). */
  async #configure(tx: TransactionSql, ef: number, where: StudyFilter | undefined): Promise<void> {
    await tx`SELECT set_config('hnsw.ef_search', ${String(ef)}, true)`;
    if (hasFilter(where)) {
      await tx`SELECT set_config('hnsw.iterative_scan', 'strict_order', true)`;
    }
  }

  /** The nearest-neighbour statement for one query (fixed SQL, bound values). */
  #nearest(tx: TransactionSql, over: Tower, query: Float32Array, k: number, where: StudyFilter) {
    const column = tx(EMBEDDING_COLUMNS[over]), v = vectorLiteral(query);
    const label = where.label === undefined ? tx`` : tx`AND label = ${where.label}`;
    const split = where.split === undefined ? tx`` : tx`AND split = ${where.split}`;
    const patient = where.excludePatient === undefined
      ? tx``
      : tx`AND patient_id IS DISTINCT FROM ${where.excludePatient}`;
    return tx<HitRow[]>`
      SELECT id, row_index, patient_id, split, label, findings, report, image_paths,
        1 - (${column} <=> ${v}::vector) AS score
      FROM ${tx(this.table)}
      WHERE TRUE ${label} ${split} ${patient}
      ORDER BY ${column} <=> ${v}::vector
      LIMIT ${k}`;
  }
}

/** Throws unless `ef` is a valid `hnsw.ef_search`. */
function checkEfSearch(ef: number): void {
  if (!(Number.isInteger(ef) && ef >= 1 && ef <= 1000)) {
    throw new RangeError(`PgvectorIndex: efSearch must be an integer in 1..1000, is ${ef}`);
  }
}

function toHit(r: HitRow, i: number, over: Tower): SearchHit {
  return {
    rank: i + 1,
    id: r.id,
    row: r.row_index,
    score: r.score,
    label: r.label,
    findings: r.findings,
    report: r.report,
    imagePaths: r.image_paths,
    imagePath: over === "image" && r.image_paths.length === 1 ? r.image_paths[0] : null,
    patientId: r.patient_id,
    split: r.split,
  };
}
