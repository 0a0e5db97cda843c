/**
 * Bad input never kills an embedding run and is always named: an empty PNG, a truncated JPEG and
 * a text file named `.png` are skipped with their file and study, the rest of the dataset embeds
 * as it would without them, `strict` stops at the first one (keeping what was embedded before),
 * and a report that tokenizes to nothing is skipped the same way. Demo encoders, built in a
 * temporary folder from the synthetic set and a committed JPEG fixture.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadDataset } from "../src/data/load_dataset.ts";
import { writeManifest } from "../src/data/manifest.ts";
import type { StudyRecord } from "../src/data/record.ts";
import { embedRecords, type EmbedReport } from "../src/encoders/embed_dataset.ts";
import { BadItemError, type Embedder, EmbeddingCache } from "../src/encoders/embedding_cache.ts";
import { rejectsWith } from "./util/errors.ts";

const WEIGHTS = new URL("../weights/demo", import.meta.url).pathname;
const JPEG = new URL("./fixtures/images/baseline420.jpg", import.meta.url).pathname;
const CLI = (name: string) => new URL(`../src/cli/${name}.ts`, import.meta.url).pathname;

/** `count` synthetic studies (with splits) under `dir`/data. */
async function synthetic(dir: string, seed: number, count: number): Promise<StudyRecord[]> {
  const dataDir = join(dir, "data");
  return (await loadDataset({ dataset: "synthetic", dataDir, seed, syntheticCount: count }))
    .records;
}

/** Synthetic studies with three bad image files: study 3's is empty, study 6 also has a
 * truncated JPEG (beside its good PNG), study 9's is text. */
async function badImages(dir: string, seed: number) {
  const records = await synthetic(dir, seed, 12);
  const zero = records[2].imagePaths[0], text = records[8].imagePaths[0];
  const truncated = join(dir, "data", "truncated.jpg");
  const jpeg = await Deno.readFile(JPEG);
  await Deno.writeFile(truncated, jpeg.subarray(0, jpeg.length >> 1));
  const bad = records.map((r, i) =>
    i === 5 ? { ...r, imagePaths: [...r.imagePaths, truncated] } : r
  );
  return {
    clean: records,
    bad,
    files: { zero, truncated, text },
    /** Corrupts the files (after a clean run has used them). */
    corrupt: async () => {
      await Deno.writeFile(zero, new Uint8Array());
      await Deno.writeTextFile(text, "not an image\n");
    },
  };
}

/** The image and text rows of study `id`. */
function rows(report: EmbedReport, id: string) {
  const { set } = report, i = set.ids.indexOf(id);
  assert.ok(i >= 0, `${id} is not in the set`);
  const row = (a: Float32Array) => Array.from(a.subarray(i * set.dim, (i + 1) * set.dim));
  return { image: row(set.image), text: row(set.text) };
}

Deno.test("embed: an empty PNG, a truncated JPEG and a text .png are named and skipped; the rest embeds as without them", async () => {
  const dir = await Deno.makeTempDir();
  const { clean, bad, files, corrupt } = await badImages(dir, 3);
  const opts = { weightsDir: WEIGHTS, batchSize: 4, progress: false };
  const before = await embedRecords(clean, { ...opts, cacheDir: join(dir, "clean") });
  await corrupt();

  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const cacheDir = join(dir, "cache");
  const first = await embedRecords(bad, { ...opts, cacheDir, log });
  const distinctReports = new Set(bad.filter((_, i) => i !== 2 && i !== 8).map((r) => r.report));
  assert.deepEqual(first.embedded, { images: 10, reports: distinctReports.size });
  assert.deepEqual(first.skipped.map((s) => [s.kind, s.path, s.ids]), [
    ["image", files.zero, [bad[2].id]],
    ["image", files.truncated, [bad[5].id]],
    ["image", files.text, [bad[8].id]],
  ]);
  assert.match(first.skipped[0].reason, /not a PNG or JPEG image \(first bytes: none, empty\)/);
  assert.match(first.skipped[1].reason, /^corrupt JPEG/);
  assert.match(first.skipped[2].reason, /not a PNG or JPEG image \(first bytes: 6e 6f 74 20/);
  assert.deepEqual(first.dropped, [
    { id: bad[2].id, reason: "none of its 1 image(s) could be embedded" },
    { id: bad[8].id, reason: "none of its 1 image(s) could be embedded" },
  ]);
  assert.deepEqual(first.set.ids, bad.filter((_, i) => i !== 2 && i !== 8).map((r) => r.id));
  // Study 6 keeps its good PNG: its image row is that image's embedding alone, as before.
  for (const id of first.set.ids) assert.deepEqual(rows(first, id), rows(before, id), id);
  // The collection names only the images that embedded, one per-image row each.
  const six = first.set.ids.indexOf(bad[5].id);
  assert.deepEqual(first.set.studies![six].imagePaths, clean[5].imagePaths);
  assert.deepEqual(first.set.studies![six].findings, bad[5].findings);
  assert.equal(first.set.studies![six].report, bad[5].report);
  assert.equal(first.set.images!.count, 10);
  assert.deepEqual(Array.from(first.set.images!.study), [...first.set.ids.keys()]);

  assert.equal(logs.length, 1);
  assert.match(logs[0], /^embed: skipped 3 image\(s\) and 0 report\(s\); dropped 2 of 12 studies/);
  for (const f of Object.values(files)) assert.ok(logs[0].includes(f), `${f} not named`);
  assert.ok(logs[0].includes(`${files.truncated}: corrupt JPEG`), logs[0]);

  // A rerun embeds nothing new for the good items and names the same files.
  const second = await embedRecords(bad, { ...opts, cacheDir, log });
  assert.deepEqual(second.embedded, { images: 0, reports: 0 });
  assert.deepEqual(second.skipped, first.skipped);
  assert.deepEqual(second.set, first.set);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("embed strict: the first bad file is fatal and named; the cache keeps the good images embedded before it", async () => {
  const dir = await Deno.makeTempDir();
  const { bad, files, corrupt } = await badImages(dir, 4);
  await corrupt();
  const opts = { weightsDir: WEIGHTS, cacheDir: join(dir, "cache"), batchSize: 4, progress: false };
  await assert.rejects(() => embedRecords(bad, { ...opts, strict: true }), (e: Error) => {
    assert.match(e.message, /not a PNG or JPEG image \(first bytes: none, empty\)/);
    assert.ok(e.message.startsWith(`${files.zero}: `), e.message);
    assert.ok(e.message.includes(bad[2].id), e.message);
    assert.ok(!e.message.includes(files.truncated) && !e.message.includes(files.text));
    return true;
  });
  // The failing batch held studies 1-4: its three good images are in the cache.
  const rest = await embedRecords(bad, { ...opts, log: () => {} });
  assert.equal(rest.embedded.images, 10 - 3);
  assert.equal(rest.skipped.length, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("embed: a report that tokenizes to nothing is named and skipped; strict fails on it before embedding", async () => {
  const dir = await Deno.makeTempDir();
  const records = await synthetic(dir, 6, 6);
  const reports = new Map([[1, " \n\t "], [4, "[CLS] [SEP]"]]);
  const bad: StudyRecord[] = records.map((r, i) => ({ ...r, report: reports.get(i) ?? r.report }));
  const opts = { weightsDir: WEIGHTS, cacheDir: join(dir, "cache"), progress: false };
  await rejectsWith(
    () => embedRecords(bad, { ...opts, strict: true }),
    `study ${bad[1].id}: empty report (strict`,
  );
  const logs: string[] = [];
  const result = await embedRecords(bad, { ...opts, log: (m) => logs.push(m) });
  assert.deepEqual(result.skipped.map((s) => [s.kind, s.path, s.ids]), [
    ["report", null, [bad[1].id]],
    ["report", null, [bad[4].id]],
  ]);
  assert.equal(result.skipped[0].reason, "empty report");
  assert.equal(
    result.skipped[1].reason,
    'report "[CLS] [SEP]" has no tokens besides the start and end tokens',
  );
  assert.deepEqual(result.dropped.map((d) => d.id), [bad[1].id, bad[4].id]);
  assert.deepEqual(result.set.ids, bad.filter((_, i) => !reports.has(i)).map((r) => r.id));
  // The strict run stopped before any encoder ran; the dropped studies' images are not embedded.
  assert.deepEqual(result.embedded.images, 4);
  assert.match(logs[0], /skipped 0 image\(s\) and 2 report\(s\); dropped 2 of 6 studies/);
  assert.ok(logs[0].includes(`study ${bad[4].id}: report "[CLS] [SEP]"`), logs[0]);
  await rejectsWith(
    () => embedRecords(bad.map((r) => ({ ...r, report: "" })), { ...opts, log: () => {} }),
    `embed: all 6 studies were dropped; first: ${bad[0].id}: empty report`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("embedding cache fill: a bad item mid-batch is skipped, its batch kept; a throw from onSkip stops after a flush", async () => {
  const dir = await Deno.makeTempDir();
  const embedder: Embedder<number> = {
    id: "count",
    dim: 2,
    embed: (xs) => Promise.resolve(Float32Array.from(xs.flatMap((x) => [x, -x]))),
  };
  const items = [1, 2, 3, 4, 5, 6].map((x) => ({
    key: `k${x}`,
    load: () => {
      if (x === 2 || x === 5) throw new BadItemError(`item ${x} is bad`);
      return x;
    },
  }));
  const opts = { batchSize: 3, flushEvery: 100 };
  const strict = await EmbeddingCache.open(dir, embedder.id, embedder.dim);
  await rejectsWith(() => strict.fill(items, embedder, opts), "item 2 is bad");
  // Reopened from disk: the first batch's good items were written before the error.
  const reopened = await EmbeddingCache.open(dir, embedder.id, embedder.dim);
  assert.deepEqual([reopened.has("k1"), reopened.has("k3"), reopened.size], [true, true, 2]);

  const skipped: string[] = [];
  const n = await reopened.fill(items, embedder, {
    ...opts,
    onSkip: (it, e) => skipped.push(`${it.key}: ${e.message}`),
  });
  assert.equal(n, 2);
  assert.deepEqual(skipped, ["k2: item 2 is bad", "k5: item 5 is bad"]);
  assert.deepEqual(Array.from(reopened.get("k6")), [6, -6]);
  assert.ok(!reopened.has("k2") && !reopened.has("k5"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task embed / train: bad images are listed and skipped; --strict exits 1 naming the first", async () => {
  const dir = await Deno.makeTempDir();
  const { bad, files, corrupt } = await badImages(dir, 8);
  await corrupt();
  const manifest = join(dir, "bad.jsonl");
  await writeManifest(manifest, bad);
  const run = async (task: string, ...extra: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLI(task),
        ...["--dataset", "manifest", "--data-dir", manifest, "--weights", WEIGHTS],
        ...["--cache-dir", join(dir, "cache"), ...extra],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  };
  const out = join(dir, "e.safetensors");
  for (const task of ["embed", "train"]) {
    const extra = task === "embed" ? ["--out", out] : ["--logs", dir];
    const strict = await run(task, "--strict", ...extra);
    assert.equal(strict.code, 1, `${task}: ${strict.stderr}`);
    assert.match(strict.stderr, /not a PNG or JPEG image \(first bytes: none, empty\)/);
    assert.ok(strict.stderr.includes(`${files.zero}: `), strict.stderr);
    assert.ok(!strict.stderr.includes(files.truncated), strict.stderr);
  }
  await assert.rejects(() => Deno.stat(out), "no embeddings file after a strict failure");

  const loose = await run("embed", "--out", out);
  assert.equal(loose.code, 0, loose.stderr);
  for (const f of Object.values(files)) assert.ok(loose.stderr.includes(f), `${f} not listed`);
  assert.match(loose.stdout, /skipped 3 bad input\(s\), dropped 2 studies .*wrote 10 studies/);
  await Deno.remove(dir, { recursive: true });
});
