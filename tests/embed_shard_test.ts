/**
 * Sharded embedding: `deno task embed --shard 0/2` and `--shard 1/2` into two caches (as on two
 * machines), `--merge-cache` of one into the other, then a run without `--shard` embeds nothing
 * and writes the same embeddings file, byte for byte, as one unsharded run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runEmbed } from "../src/cli/embed.ts";
import { inShard, parseShard } from "../src/encoders/embed_dataset.ts";

Deno.test("embed --shard 0/2 and 1/2, --merge-cache: the same file as one run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cxr-shards-" });
  const data = ["--dataset", "synthetic", "--data-dir", join(dir, "data")];
  const run = (...args: string[]) => runEmbed([...data, "--synthetic-count", "24", ...args]);
  const one = await run("--cache-dir", join(dir, "one"), "--out", join(dir, "one.safetensors"));
  const a = await run("--shard", "0/2", "--cache-dir", join(dir, "a"));
  const b = await run("--shard", "1/2", "--cache-dir", join(dir, "b"));
  assert.ok(
    a.images > 0 && b.images > 0,
    `shards of ${one.images} images: ${a.images}, ${b.images}`,
  );
  assert.deepEqual([a.images + b.images, a.reports + b.reports], [one.images, one.reports]);
  const merged = await run(
    ...["--merge-cache", join(dir, "b"), "--cache-dir", join(dir, "a")],
    ...["--out", join(dir, "merged.safetensors")],
  );
  assert.deepEqual(merged, { images: 0, reports: 0 }, "every item came from the merged cache");
  assert.deepEqual(
    await Deno.readFile(join(dir, "merged.safetensors")),
    await Deno.readFile(join(dir, "one.safetensors")),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("shards: i/n is checked, and every key is in exactly one part", () => {
  assert.deepEqual(parseShard("1/3"), { index: 1, count: 3 });
  assert.throws(() => parseShard("2/2"), /--shard: expected i\/n with 0 <= i < n/);
  assert.throws(() => parseShard("1"), /got "1"/);
  const keys = Array.from(
    { length: 64 },
    (_, i) => (i * 2654435761).toString(16).padStart(64, "0"),
  );
  for (const key of keys) {
    const parts = [0, 1, 2].filter((index) => inShard(key, { index, count: 3 }));
    assert.equal(parts.length, 1, key);
  }
});
