/**
 * Connections to PostgreSQL by URL (`postgres://user[:password]@host[:port]/database`), through
 * the maintained `npm:postgres` client, exactly as to a production server. A server that cannot
 * be reached fails at once with an error naming the host, never the password.
 *
 * @module
 */

import postgres from "postgres";

/** An open connection (the `npm:postgres` tagged-template client). */
export type Sql = postgres.Sql;

/** A connection inside a transaction (`sql.begin`). */
export type TransactionSql = postgres.TransactionSql;

/** Seconds to wait for a server before calling it unreachable. */
export const CONNECT_TIMEOUT_S = 10;

/**
 * The server a URL names, without its password: `user@host:port/database`. Throws on a URL that
 * is not `postgres://` or `postgresql://`.
 * @example
 * ```ts
 * describeServer("postgres://ann:secret@db.example.org/archive"); // "ann@db.example.org:5432/archive"
 * ```
 */
export function describeServer(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`"${redact(url)}" is not a URL; expected postgres://user@host[:port]/database`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new Error(
      `${u.protocol}//${u.host}: not a PostgreSQL URL; expected postgres://user@host[:port]/database`,
    );
  }
  const user = u.username ? `${decodeURIComponent(u.username)}@` : "";
  const database = decodeURIComponent(u.pathname.slice(1)) || "(default database)";
  return `${user}${u.hostname || "localhost"}:${u.port || "5432"}/${database}`;
}

/** The URL with any password replaced by `***`, for messages. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, "$1***@");
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Receives the server's notices (e.g. pgvector's on index builds); dropped by default. */
  onNotice?: (message: string) => void;
}

/**
 * Opens one connection to the server at `url` and checks that it answers; an unreachable,
 * refusing or unknown host, a wrong password or a missing database throws an error naming the
 * server (user, host, port, database) and the cause. Close it with `await sql.end()`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * await using server = await startPglite(); // PostgreSQL + pgvector on 127.0.0.1, a free port
 * const sql = await connect(server.url);
 * const [{ answer }] = await sql`SELECT ${41}::int + 1 AS answer`; // 42, bound, not spliced
 * await sql.end();
 * // Port 1 on loopback has no server:
 * await assert.rejects(connect("postgres://u@127.0.0.1:1/db"), /cannot reach PostgreSQL at u@127.0.0.1:1\/db/);
 * ```
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Sql> {
  const server = describeServer(url);
  const sql = postgres(url, {
    max: 1,
    connect_timeout: CONNECT_TIMEOUT_S,
    onnotice: (notice) => {
      // Class 42 notices say "… already exists, skipping": what IF NOT EXISTS is for.
      if (!String(notice.code).startsWith("42")) {
        options.onNotice?.(`${notice.severity}: ${notice.message}`);
      }
    },
  });
  try {
    await sql`SELECT 1`;
  } catch (e) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw new Error(`cannot reach PostgreSQL at ${server}: ${reason(e)}`);
  }
  return sql;
}

/** Why a connection failed, in words. */
function reason(e: unknown): string {
  const err = e as { code?: string; message?: string };
  switch (err.code) {
    case "ECONNREFUSED":
      return "connection refused (is the server running and listening on that address?)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "no such host (the name does not resolve)";
    case "CONNECT_TIMEOUT":
      return `no answer within ${CONNECT_TIMEOUT_S} s (host down or a firewall in the way?)`;
    default:
      return err.message ?? String(e);
  }
}
