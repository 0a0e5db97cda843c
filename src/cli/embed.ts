/**
 * `deno task embed`: runs the frozen encoders over a dataset, through the embedding cache, and
 * writes the embeddings file the trainer reads (`--out`, atomically). Incremental: items already
 * in the cache are not embedded again; a killed run resumes where its last cache flush left off.
 * Bad images and reports are skipped and listed at the end; `--strict` makes them fatal. For the
 * largest datasets, `--shard i/n` embeds one deterministic part into the cache (no `--out`) on
 * each machine, `--merge-cache <dir>` merges the other machines' caches into `--cache-dir`, and a
 * last run without `--shard` finds every item cached and writes the file.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type DatasetKind, DATASETS, loadDataset } from "../data/load_dataset.ts";
import { embedRecords, embedShard, parseShard } from "../encoders/embed_dataset.ts";
import { mergeEmbeddingCaches } from "../encoders/embedding_cache.ts";
import { parseEncoderRuntime } from "../encoders/onnx_runtime.ts";
import { saveEmbeddings } from "../io/embeddings.ts";

const USAGE = `usage: deno task embed --dataset <${
  DATASETS.join("|")
}> --data-dir <path> --out <file>
       [--weights weights/] [--images-dir <dir>] [--cache-dir .cache/embeddings]
       [--batch-size 16] [--flush-every 256] [--seed 0] [--synthetic-count 2000]
       [--encoder-runtime auto|native|wasm|webgpu] [--threads <cores>]
       [--shard i/n] [--merge-cache <other cache dir>]... [--label-from-text] [--strict]
  --shard i/n embeds part i of n into the cache only (--out not needed); --merge-cache merges
  caches (e.g. other machines' shards) into --cache-dir before embedding (or alone).`;

/**
 * Parses the flags and embeds; returns how many images and reports were embedded (not cached).
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const embedded = await runEmbed([
 *   "--dataset", "iu-csv", "--data-dir", "tests/fixtures/data/iu_xray_csv/dataset.csv",
 *   "--weights", "weights/demo", "--cache-dir", `${dir}/cache`, "--out", `${dir}/e.safetensors`,
 * ]); // { images: 1, reports: 4 }: the 4 fixture images are one picture, embedded once
 * // The same call again embeds nothing: every item is in the cache.
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runEmbed(args: string[]): Promise<{ images: number; reports: number }> {
  const { values } = parseArgs({
    args,
    options: {
      dataset: { type: "string" },
      "data-dir": { type: "string" },
      "images-dir": { type: "string" },
      out: { type: "string" },
      weights: { type: "string" },
      "cache-dir": { type: "string", default: ".cache/embeddings" },
      "batch-size": { type: "string", default: "16" },
      "flush-every": { type: "string", default: "256" },
      "encoder-runtime": { type: "string", default: "auto" },
      threads: { type: "string" },
      shard: { type: "string" },
      "merge-cache": { type: "string", multiple: true },
      seed: { type: "string", default: "0" },
      "synthetic-count": { type: "string", default: "2000" },
      "label-from-text": { type: "boolean", default: false },
      strict: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return { images: 0, reports: 0 };
  }
  const cacheDir = values["cache-dir"];
  for (const from of values["merge-cache"] ?? []) {
    console.log(`merged ${await mergeEmbeddingCaches(cacheDir, from)} embeddings from ${from}`);
  }
  if (!values.dataset && values["merge-cache"]) return { images: 0, reports: 0 };
  const shard = values.shard === undefined ? null : parseShard(values.shard);
  if (!values.dataset || !values["data-dir"] || (!values.out && !shard)) throw new Error(USAGE);
  const dataset = values.dataset as DatasetKind;
  const { records, problems } = await loadDataset({
    dataset,
    dataDir: values["data-dir"],
    imagesDir: values["images-dir"],
    labelFromText: values["label-from-text"],
    seed: Number(values.seed),
    syntheticCount: Number(values["synthetic-count"]),
    strict: values.strict,
  });
  console.log(`${dataset}: ${records.length} studies (${problems.length} rows skipped)`);
  const options = {
    weightsDir: values.weights ?? (dataset === "synthetic" ? "weights/demo" : "weights"),
    cacheDir,
    batchSize: Number(values["batch-size"]),
    runtime: parseEncoderRuntime(values["encoder-runtime"]),
    numThreads: values.threads === undefined ? undefined : Number(values.threads),
    flushEvery: Number(values["flush-every"]),
    strict: values.strict,
  };
  if (shard) {
    const { embedded } = await embedShard(records, options, shard);
    console.log(
      `shard ${values.shard}: embedded ${embedded.images} images and ${embedded.reports} reports ` +
        `into ${cacheDir}`,
    );
    return embedded;
  }
  const { set, embedded, skipped, dropped } = await embedRecords(records, options);
  await saveEmbeddings(values.out!, set);
  const bad = skipped.length > 0
    ? `; skipped ${skipped.length} bad input(s), dropped ${dropped.length} studies (listed above)`
    : "";
  console.log(
    `embedded ${embedded.images} images and ${embedded.reports} reports${bad}; ` +
      `wrote ${set.count} studies to ${values.out}`,
  );
  return embedded;
}

if (import.meta.main) {
  try {
    await runEmbed(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
