import assert from "node:assert/strict";
import { join } from "node:path";
import { loadDataset } from "../src/data/load_dataset.ts";
import { embedRecords } from "../src/encoders/embed_dataset.ts";

const WEIGHTS = new URL("../weights/demo", import.meta.url).pathname;
const EMBED_CLI = new URL("../src/cli/embed.ts", import.meta.url).pathname;

async function shardCount(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isDirectory) continue;
      for await (const f of Deno.readDir(join(dir, e.name))) if (f.name.startsWith("shard-")) n++;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return n;
}

Deno.test("embedding cache: a second run embeds nothing; a changed report alone is re-embedded", async () => {
  const dir = await Deno.makeTempDir();
  const { records } = await loadDataset({
    dataset: "synthetic",
    dataDir: join(dir, "data"),
    seed: 5,
    syntheticCount: 12,
  });
  const opts = { weightsDir: WEIGHTS, cacheDir: join(dir, "cache"), batchSize: 4, progress: false };
  const first = await embedRecords(records, opts);
  const distinctReports = new Set(records.map((r) => r.report)).size;
  assert.deepEqual(first.embedded, { images: 12, reports: distinctReports });
  const second = await embedRecords(records, opts);
  assert.deepEqual(second.embedded, { images: 0, reports: 0 });
  assert.deepEqual(second.set.image, first.set.image);
  assert.deepEqual(second.set.text, first.set.text);

  const changed = records.map((r, i) => i === 3 ? { ...r, report: r.report + " Addendum." } : r);
  const third = await embedRecords(changed, opts);
  assert.deepEqual(third.embedded, { images: 0, reports: 1 });
  const dim = third.set.dim;
  for (let i = 0; i < records.length; i++) {
    const row = (a: Float32Array) => Array.from(a.subarray(i * dim, (i + 1) * dim));
    if (i === 3) assert.notDeepEqual(row(third.set.text), row(first.set.text));
    else assert.deepEqual(row(third.set.text), row(first.set.text));
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("embedding cache: kill -9 during `deno task embed`, rerun: the same file as an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  const data = join(dir, "data");
  await loadDataset({ dataset: "synthetic", dataDir: data, seed: 9, syntheticCount: 48 });
  const embed = (cache: string, out: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        EMBED_CLI,
        "--dataset",
        "synthetic",
        "--data-dir",
        data,
        "--synthetic-count",
        "48",
        "--seed",
        "9",
        "--weights",
        WEIGHTS,
        "--cache-dir",
        cache,
        "--out",
        out,
        "--batch-size",
        "4",
        "--flush-every",
        "8",
      ],
      stdout: "null",
      stderr: "piped",
    });
  const straight = await embed(join(dir, "cache-a"), join(dir, "a.safetensors")).output();
  assert.equal(straight.code, 0, new TextDecoder().decode(straight.stderr));

  const cacheB = join(dir, "cache-b"), outB = join(dir, "b.safetensors");
  const child = embed(cacheB, outB).spawn();
  for (let i = 0; i < 1200 && await shardCount(cacheB) < 2; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGKILL");
  assert.ok(!(await child.status).success, "the run finished before it could be killed");
  await child.stderr.cancel();
  const shards = await shardCount(cacheB);
  assert.ok(shards >= 2 && shards < 12, `killed with ${shards} shards written`);
  await assert.rejects(() => Deno.stat(outB), "no output file after the kill");

  const resumed = await embed(cacheB, outB).output();
  assert.equal(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
  assert.deepEqual(await Deno.readFile(outB), await Deno.readFile(join(dir, "a.safetensors")));
  await Deno.remove(dir, { recursive: true });
});
