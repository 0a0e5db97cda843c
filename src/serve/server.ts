/**
 * The local web app on `Deno.serve`: {@link searchApp}'s handler bound to 127.0.0.1 unless told
 * otherwise (the page and the API have no login: expose them beyond the machine on purpose only).
 *
 * @module
 */

import type { CollectionSearch } from "../retrieval/search.ts";
import { type AppOptions, searchApp } from "./app.ts";

/** Options of {@link serveSearch}. */
export interface ServeOptions extends AppOptions {
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Called once listening, with the page's URL. */
  onListen?: (url: string) => void;
}

/**
 * Serves the page and the API over `search` until `signal` aborts (or `shutdown()`).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "../retrieval/demo_collection.ts";
 * import { openSearch } from "../retrieval/search.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection();
 *   await using search = await openSearch(demo);
 *   const server = serveSearch(search, { port: 0 }); // http://127.0.0.1:<free port>/
 *   const { port } = server.addr as Deno.NetAddr;
 *   const status = await (await fetch(`http://127.0.0.1:${port}/api/status`)).json();
 *   status.studies; // 24
 *   await server.shutdown();
 *   await demo.remove();
 * }
 * ```
 */
export function serveSearch(search: CollectionSearch, o: ServeOptions = {}): Deno.HttpServer {
  const hostname = o.hostname ?? "127.0.0.1";
  const handler = searchApp(search, o);
  return Deno.serve({
    hostname,
    port: o.port ?? 8000,
    signal: o.signal,
    onListen: ({ port }) => {
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      (o.onListen ?? ((url) => console.log(`serving ${url}`)))(`http://${host}:${port}/`);
    },
  }, handler);
}
