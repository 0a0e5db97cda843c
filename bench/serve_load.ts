/**
 * Load test of `deno task serve` on loopback (`deno task load-test`): starts the server on the
 * demo (or `--checkpoint` / `--collection`), reads its memory, sends `--sequential` searches one
 * after another and then `--concurrent` at once (alternately an image of the collection, uploaded
 * as bytes, and a report of the collection as JSON), reads its memory again and prints the
 * latencies (p50, p95, max) and the errors. Bounded: stops after `--timeout-s` seconds. Exits 1 on
 * any failed search.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEMO_SEARCH, SEARCH_FLAGS } from "../src/cli/search.ts";
import { loadEmbeddings } from "../src/io/embeddings.ts";

/** What {@link loadTest} sends. */
export interface LoadOptions {
  /** Searches sent one after another. */
  sequential: number;
  /** Searches sent at once, after the sequential ones. */
  concurrent: number;
  /** Image files to upload, in turn. */
  images: Uint8Array[];
  /** Reports to search with, in turn. */
  reports: string[];
  /** k of each search. */
  k: number;
  /** Aborts the requests still running. */
  signal?: AbortSignal;
}

/** Latencies of one phase, in ms. */
export interface PhaseStats {
  /** Searches sent. */
  count: number;
  /** Failed searches (status or network), with the first message. */
  errors: number;
  firstError: string | null;
  /** Median, 95th percentile (nearest rank) and maximum latency. */
  p50: number;
  p95: number;
  max: number;
  /** Wall time of the phase. */
  wallMs: number;
}

/** The result of {@link loadTest}. */
export interface LoadResult {
  /** The sequential phase. */
  sequential: PhaseStats;
  /** The concurrent phase (latency counts the wait for the searches before it). */
  concurrent: PhaseStats;
  /** The server's memory (`GET /api/status`) before and after, in bytes. */
  memory: { before: Deno.MemoryUsage; after: Deno.MemoryUsage };
}

/**
 * Sends the searches to a running server at `base` (e.g. `http://127.0.0.1:8000/`).
 * @example
 * ```ts
 * import { tryGetGpu } from "../src/gpu/context.ts";
 * import { trainDemoCollection } from "../src/retrieval/demo_collection.ts";
 * import { openSearch } from "../src/retrieval/search.ts";
 * import { serveSearch } from "../src/serve/server.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection();
 *   await using search = await openSearch(demo);
 *   const server = serveSearch(search, { port: 0, onListen: () => {} });
 *   const base = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
 *   const images = [await Deno.readFile(demo.imagePaths[0])];
 *   const o = { sequential: 4, concurrent: 4, images, reports: demo.reports, k: 10 };
 *   const result = await loadTest(base, o);
 *   result.sequential.p95; // ms
 *   await server.shutdown();
 *   await demo.remove();
 * }
 * ```
 */
export async function loadTest(base: string, o: LoadOptions): Promise<LoadResult> {
  const status = async () => (await (await fetch(new URL("api/status", base))).json()).memory;
  const search = async (i: number): Promise<string | null> => {
    const url = new URL(`api/search?k=${o.k}`, base);
    const init: RequestInit = i % 2 === 0
      ? { method: "POST", body: o.images[(i / 2) % o.images.length] as Uint8Array<ArrayBuffer> }
      : {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: o.reports[((i - 1) / 2) % o.reports.length] }),
      };
    try {
      const response = await fetch(url, { ...init, signal: o.signal });
      const body = await response.json();
      if (!response.ok) return `${response.status}: ${body.error}`;
      return body.hits?.length === o.k ? null : `search ${i}: ${body.hits?.length} hits`;
    } catch (e) {
      return `search ${i}: ${(e as Error).message}`;
    }
  };
  const timed = async (i: number) => {
    const t0 = performance.now();
    const error = await search(i);
    return { ms: performance.now() - t0, error };
  };
  const before = await status();
  let t0 = performance.now();
  const one: { ms: number; error: string | null }[] = [];
  for (let i = 0; i < o.sequential; i++) one.push(await timed(i));
  const sequential = stats(one, performance.now() - t0);
  t0 = performance.now();
  const many = await Promise.all(Array.from({ length: o.concurrent }, (_, i) => timed(i)));
  const concurrent = stats(many, performance.now() - t0);
  return { sequential, concurrent, memory: { before, after: await status() } };
}

/** Latency statistics of a phase. */
function stats(runs: { ms: number; error: string | null }[], wallMs: number): PhaseStats {
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
  const rank = (p: number) => ms[Math.max(0, Math.ceil(p * ms.length) - 1)] ?? NaN;
  const failed = runs.filter((r) => r.error !== null);
  return {
    count: runs.length,
    errors: failed.length,
    firstError: failed[0]?.error ?? null,
    p50: rank(0.5),
    p95: rank(0.95),
    max: ms.at(-1) ?? NaN,
    wallMs,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      ...SEARCH_FLAGS,
      sequential: { type: "string", default: "200" },
      concurrent: { type: "string", default: "50" },
      k: { type: "string", default: "10" },
      "timeout-s": { type: "string", default: "600" },
    },
  });
  const collection = values.collection ?? DEMO_SEARCH.collection;
  const set = await loadEmbeddings(collection);
  if (!set.studies) throw new Error(`${collection} keeps no study facts to search with`);
  const paths = set.studies.slice(0, 50).map((s) => s.imagePaths[0]);
  const images = await Promise.all(paths.map((p) => Deno.readFile(p)));
  const reports = set.studies.slice(50, 100).map((s) => s.report);
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../src/cli/serve.ts", import.meta.url).pathname,
      ...["--checkpoint", values.checkpoint, "--collection", collection, "--port", "0"],
      ...(values.weights ? ["--weights", values.weights] : []),
    ],
    stdout: "piped",
  }).spawn();
  const signal = AbortSignal.timeout(Number(values["timeout-s"]) * 1000);
  try {
    let out = "";
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!out.includes("serving ")) {
      const r = await reader.read();
      if (r.done) throw new Error(`the server stopped before listening:\n${out}`);
      out += r.value;
    }
    const base = out.match(/serving (\S+)/)![1];
    const o = {
      sequential: Number(values.sequential),
      concurrent: Number(values.concurrent),
      images,
      reports,
      k: Number(values.k),
      signal,
    };
    const result = await loadTest(base, o);
    const mb = (m: Deno.MemoryUsage) =>
      `rss ${(m.rss / 2 ** 20).toFixed(0)} MB, heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MB`;
    console.log(`server ${base} on ${values.collection} (${set.count} studies), k ${o.k}`);
    for (
      const [name, s] of Object.entries({
        sequential: result.sequential,
        concurrent: result.concurrent,
      })
    ) {
      console.log(
        `${name.padEnd(10)} ${s.count} searches in ${(s.wallMs / 1000).toFixed(1)} s: p50 ` +
          `${s.p50.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms, max ${s.max.toFixed(0)} ms, ` +
          `${s.errors} errors${s.firstError ? ` (first: ${s.firstError})` : ""}`,
      );
    }
    console.log(`memory before: ${mb(result.memory.before)}; after: ${mb(result.memory.after)}`);
    if (result.sequential.errors + result.concurrent.errors > 0) Deno.exitCode = 1;
  } finally {
    server.kill();
    await server.status;
  }
}
