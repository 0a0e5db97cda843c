import assert from "node:assert/strict";
import { loadEmbeddings } from "../src/io/embeddings.ts";
import { Projector } from "../src/model/projector.ts";
import { connect, type Sql } from "../src/retrieval/pg_connection.ts";
import { gpuTest } from "./util/check.ts";
import { startPglite } from "./util/pglite_server.ts";
import { writeDemoLikeCollection } from "./util/pgvector_fixture.ts";

/** `deno task index <args>` as deno.json defines it, run by this Deno in its own process. */
function indexTask(args: string[]): Deno.Command {
  const tasks = JSON.parse(Deno.readTextFileSync("deno.json")).tasks as Record<string, string>;
  const [deno, ...rest] = tasks.index.split(" ");
  assert.equal(deno, "deno", `deno.json's index task: ${tasks.index}`);
  return new Deno.Command(Deno.execPath(), {
    args: [...rest, ...args],
    stdout: "piped",
    stderr: "piped",
  });
}

/** Rows of the table; 0 before it exists. */
async function rowCount(sql: Sql): Promise<number> {
  try {
    return (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM cxr_studies`)[0].n;
  } catch {
    return 0;
  }
}

/** The float32 values of pgvector's binary form (int16 width, int16 unused, big-endian floats). */
function vectorValues(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: view.getInt16(0) }, (_, i) => view.getFloat32(4 + 4 * i));
}

gpuTest(
  "deno task index killed (SIGKILL) after some batches, then rerun: every study once, embeddings byte-equal",
  async (gpu) => {
    const total = 1200, batch = 50;
    const files = await writeDemoLikeCollection({ count: total });
    await using server = await startPglite();
    const sql = await connect(server.url);
    try {
      const args = ["--checkpoint", files.checkpoint, "--collection", files.collection];
      args.push("--to", server.url, "--batch-size", String(batch));
      const child = indexTask(args).spawn();
      let exited = false;
      child.status.then(() => exited = true);
      while (await rowCount(sql) < 3 * batch) {
        assert.ok(!exited, "the index run ended before it could be killed");
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGKILL");
      assert.equal((await child.status).signal, "SIGKILL");
      await Promise.all([child.stdout.cancel(), child.stderr.cancel()]);
      const survived = await rowCount(sql);
      assert.ok(survived < total, `killed too late: ${survived} of ${total} rows written`);
      assert.equal(survived % batch, 0, `${survived} rows: a batch was half committed`);

      const rerun = await indexTask(args).output();
      const stdout = new TextDecoder().decode(rerun.stdout);
      assert.equal(rerun.code, 0, new TextDecoder().decode(rerun.stderr));
      assert.match(
        stdout,
        new RegExp(
          `${total} studies, ${total - survived} written \\(\\d+ rows/s\\), ` +
            `${survived} already there; HNSW indexes built`,
        ),
      );

      const [counts] = await sql<{ rows: number; ids: number; positions: number }[]>`
        SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids,
          count(DISTINCT row_index)::int AS positions FROM cxr_studies`;
      assert.deepEqual(counts, { rows: total, ids: total, positions: total });

      const set = await loadEmbeddings(files.collection);
      const projector = await Projector.load(files.checkpoint, gpu);
      const image = await projector.project("image", set.image, total);
      const text = await projector.project("text", set.text, total);
      const out = projector.head.outDim;
      const stored = await sql<{ row_index: number; image: Uint8Array; report: Uint8Array }[]>`
        SELECT row_index, vector_send(image_embedding) AS image,
          vector_send(report_embedding) AS report
        FROM cxr_studies ORDER BY row_index`;
      for (const s of stored) {
        const r = s.row_index, part = (z: Float32Array) => z.subarray(r * out, (r + 1) * out);
        assert.deepEqual(vectorValues(s.image), part(image), `study ${r}: image embedding`);
        assert.deepEqual(vectorValues(s.report), part(text), `study ${r}: report embedding`);
      }
    } finally {
      await sql.end();
      await Deno.remove(files.dir, { recursive: true });
    }
  },
);
