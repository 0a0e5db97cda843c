/**
 * `deno task index`: writes a collection's projected image and report embeddings and its study
 * facts into a PostgreSQL + pgvector table with HNSW indexes (cosine), for search beyond one
 * machine. Safe to rerun, also after a killed run: every study ends up once.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_TABLE } from "../retrieval/pgvector_schema.ts";
import {
  DEFAULT_BATCH_SIZE,
  indexCollection,
  type IndexReport,
} from "../retrieval/pgvector_write.ts";
import { Progress } from "../util/progress.ts";

const USAGE = `usage: deno task index --checkpoint <ckpt.safetensors>
       --collection <embeddings.safetensors> --to postgres://user@host[:port]/database
       [--table ${DEFAULT_TABLE}] [--batch-size ${DEFAULT_BATCH_SIZE}] [--build-memory 1GB]
  --build-memory: maintenance_work_mem for the HNSW builds (default: the server's setting);
  they run far faster while the graph fits (the server's notices are printed).
  The password, when the server needs one, comes from the URL or the PGPASSWORD variable.`;

/**
 * Parses `args`, indexes, prints progress (rows/s) on stderr and returns what was done.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { startPglite } from "../../tests/util/pglite_server.ts";
 * import { writeDemoLikeCollection } from "../../tests/util/pgvector_fixture.ts";
 * if (await tryGetGpu()) {
 *   await using server = await startPglite();
 *   const f = await writeDemoLikeCollection({ count: 20 });
 *   const args = ["--checkpoint", f.checkpoint, "--collection", f.collection, "--to", server.url];
 *   const report = await runIndex(args); // report.written: 20
 *   await Deno.remove(f.dir, { recursive: true });
 * }
 * ```
 */
export async function runIndex(args: string[]): Promise<IndexReport> {
  const { values } = parseArgs({
    args,
    options: {
      checkpoint: { type: "string" },
      collection: { type: "string" },
      to: { type: "string" },
      table: { type: "string", default: DEFAULT_TABLE },
      "batch-size": { type: "string", default: String(DEFAULT_BATCH_SIZE) },
      "build-memory": { type: "string" },
    },
  });
  if (!values.checkpoint || !values.collection || !values.to) throw new Error(USAGE);
  let progress: Progress | null = null;
  try {
    return await indexCollection({
      url: values.to,
      checkpoint: values.checkpoint,
      collection: values.collection,
      table: values.table,
      batchSize: Number(values["batch-size"]),
      buildMemory: values["build-memory"],
      onNotice: (message) => console.error(message),
      onProgress: (done, total) => {
        progress ??= new Progress("index", total, "rows");
        progress.update(done);
      },
    });
  } finally {
    (progress as Progress | null)?.done();
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  try {
    const r = await runIndex(Deno.args);
    const rate = r.written / Math.max(r.writeSeconds, 1e-9);
    console.log(
      `table ${r.table} at ${r.server}: ${r.studies} studies, ${r.written} written ` +
        `(${rate.toFixed(0)} rows/s), ${r.present} already there; HNSW indexes ` +
        (r.indexesBuilt.length > 0 ? `built in ${r.indexSeconds.toFixed(1)} s` : "already there") +
        `; head ${r.head.slice(0, 16)}`,
    );
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
