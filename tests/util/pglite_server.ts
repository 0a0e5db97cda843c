/**
 * A real PostgreSQL engine with the real pgvector extension for tests, benches and examples:
 * PGlite (PostgreSQL compiled to WASM) with pglite-pgvector, served over the PostgreSQL wire
 * protocol by pglite-socket on 127.0.0.1 at a free port. Code under test connects by URL, exactly
 * as to a production server; PGlite runs one session, so the socket server queues connections
 * and gives a transaction's connection the engine until it ends (a client that dies mid-
 * transaction is rolled back).
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { writeFileAtomic } from "../../src/util/atomic_write.ts";

/**
 * A fresh cluster (initdb done, pgvector created), kept so later starts load it in ~2 s instead
 * of running initdb in ~10 s. Named by the engine's versions, as pinned in deno.json.
 */
const FRESH_CLUSTER = ".cache/pglite/pglite-0.5.14-pgvector-0.0.15-fresh.tar.gz";

/** A new in-memory engine with pgvector, from {@link FRESH_CLUSTER} when it is there. */
async function freshEngine(): Promise<PGlite> {
  const saved = await Deno.readFile(FRESH_CLUSTER).catch(() => null);
  if (saved) {
    return await PGlite.create({ extensions: { vector }, loadDataDir: new Blob([saved]) });
  }
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec("CREATE EXTENSION IF NOT EXISTS vector");
  const dump = await db.dumpDataDir("gzip");
  await Deno.mkdir(".cache/pglite", { recursive: true });
  await writeFileAtomic(FRESH_CLUSTER, new Uint8Array(await dump.arrayBuffer()));
  return db;
}

/** A running server. */
export interface PgliteServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  /** Its port. */
  port: number;
  /** Stops the server and the engine. */
  stop(): Promise<void>;
  /** {@link PgliteServer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts an in-memory PGlite with pgvector (the extension created) and serves it on 127.0.0.1 at a
 * free port.
 * @example
 * ```ts
 * await using server = await startPglite();
 * server.url; // "postgres://postgres@127.0.0.1:<port>/postgres"
 * ```
 */
export async function startPglite(): Promise<PgliteServer> {
  const db = await freshEngine();
  const socket = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 16 });
  await socket.start();
  const port = Number(socket.getServerConn().split(":").at(-1));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await socket.stop();
    await db.close();
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
