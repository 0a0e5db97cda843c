/**
 * Embeds a dataset's records with the frozen encoders, through the embedding cache, into the
 * embeddings file the trainer reads: per record, the mean image embedding of its images and the
 * embedding of its report, with its label and split.
 *
 * Bad input does not stop a long run: an image file that cannot be read or decoded (empty,
 * truncated, not an image) and a report that tokenizes to nothing are skipped, named with their
 * file and study, returned and summarized at the end. A study keeps the images that did embed;
 * one with none left, or with a skipped report, is dropped. With `strict` the first bad input is
 * fatal (the cache keeps what was embedded before it).
 *
 * @module
 */

import type { StudyRecord } from "../data/record.ts";
import type { EmbeddingSet } from "../io/embeddings.ts";
import { SPLIT_CODES } from "../io/embeddings.ts";
import { formatDuration, Progress } from "../util/progress.ts";
import {
  BadItemError,
  type CacheItem,
  contentHash,
  type Embedder,
  EmbeddingCache,
} from "./embedding_cache.ts";
import { openBiomedClip } from "./encoders.ts";
import { type EncoderRuntime, resolveRuntime } from "./onnx_runtime.ts";
import { loadImageFile, readImageFile } from "./image_file.ts";
import { PreprocessPool } from "./preprocess_pool.ts";
import {
  type DroppedStudy,
  formatSkipped,
  reportProblem,
  type SkippedInput,
  summarizeSkipped,
} from "./skipped_inputs.ts";
import { openTokenizer } from "./clip_import.ts";
import { encoderIds } from "./encoder_ids.ts";
import { encoderFamilyName } from "./manifest.ts";

/** Options of {@link embedRecords}. */
export interface EmbedOptions {
  /** Folder written by `deno task weights import` (or `weights/demo`). */
  weightsDir: string;
  /** Root of the embedding cache. */
  cacheDir: string;
  /** Items per encoder call (default 16). */
  batchSize?: number;
  /** Where the encoders run (default `auto`: native onnxruntime where it loads, else WASM). */
  runtime?: EncoderRuntime;
  /** Encoder CPU threads (default every core, as `EncoderOptions.numThreads`). */
  numThreads?: number;
  /**
   * Worker threads that decode and preprocess images while the encoder runs (default: one per
   * core, at most 8; 0 decodes in this thread).
   */
  preprocessWorkers?: number;
  /** Items between cache flushes (default 256). */
  flushEvery?: number;
  /** Show progress lines (default true). */
  progress?: boolean;
  /** Fail on the first bad image or report (naming it) instead of skipping it. Default false. */
  strict?: boolean;
  /** Receives the end-of-run summary of skipped inputs; default `console.warn`. */
  log?: (message: string) => void;
  /** Receives the line naming the runtime at the start (default `console.error` with progress). */
  info?: (message: string) => void;
}

/** What {@link embedRecords} did, besides the set. */
export interface EmbedReport {
  /** The embeddings of the studies kept, in record order. */
  set: EmbeddingSet;
  /** Images and reports embedded in this call (the rest came from the cache). */
  embedded: { images: number; reports: number };
  /** Inputs that could not be embedded, in the order they were found. */
  skipped: SkippedInput[];
  /** Studies left out: no image could be embedded, or the report was skipped. */
  dropped: DroppedStudy[];
}

/** Part `index` of `count` (0-based) of a dataset's items, for {@link embedShard}. */
export interface Shard {
  /** Which part, 0 ≤ index < count. */
  index: number;
  /** How many parts. */
  count: number;
}

/**
 * Reads `i/n` (as `--shard` takes it), checking 0 ≤ i < n; the error names the flag.
 * @example
 * ```ts
 * parseShard("1/4"); // { index: 1, count: 4 }
 * ```
 */
export function parseShard(value: string, flag = "--shard"): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(m?.[1]), count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) {
    throw new Error(`${flag}: expected i/n with 0 <= i < n (e.g. 0/4), got "${value}"`);
  }
  return { index, count };
}

/**
 * Whether the item with content key `key` (hex SHA-256) is in `shard`: by the key's first 48
 * bits, so the parts depend only on the items' content, not on the dataset's order.
 * @example
 * ```ts
 * const key = "0".repeat(64);
 * inShard(key, { index: 0, count: 3 }); // true
 * ```
 */
export function inShard(key: string, shard: Shard): boolean {
  return parseInt(key.slice(0, 12), 16) % shard.count === shard.index;
}

/** What {@link embedShard} did. */
export interface ShardReport {
  /** Images and reports of the shard embedded in this call (the rest were cached). */
  embedded: { images: number; reports: number };
  /** Inputs of the shard that could not be embedded. */
  skipped: SkippedInput[];
}

/**
 * Embeds one part of the items of `records` into the cache and writes no embeddings set: each
 * machine of a large job runs one shard into its own cache folder; the folders are merged
 * ({@link mergeEmbeddingCaches}) and a last {@link embedRecords} over all records finds every
 * item cached and writes the set, the same as one run would (`deno task embed --shard i/n`, then
 * `--merge-cache`). Every report that tokenizes is
 * embedded (one run embeds only the reports of studies with an image left).
 * @example
 * ```ts
 * import { generateSyntheticCxr } from "../data/synthetic_cxr.ts";
 * const dir = await Deno.makeTempDir();
 * const { records } = await generateSyntheticCxr({ count: 4, seed: 1, outDir: dir, size: 64 });
 * const opts = { weightsDir: "weights/demo", cacheDir: `${dir}/cache`, progress: false };
 * const a = await embedShard(records, opts, { index: 0, count: 2 });
 * const b = await embedShard(records, opts, { index: 1, count: 2 });
 * console.log(a.embedded.images + b.embedded.images); // 4: each image in exactly one shard
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function embedShard(
  records: readonly StudyRecord[],
  opts: EmbedOptions,
  shard: Shard,
): Promise<ShardReport> {
  return await embedRun(records, opts, shard) as ShardReport;
}

/**
 * Embeds `records` (every record needs a split). Items already in the cache under the same
 * encoder are not embedded again. Bad images and reports are skipped and returned (see the
 * module doc); `strict` makes the first one fatal.
 * @example
 * ```ts
 * import { generateSyntheticCxr } from "../data/synthetic_cxr.ts";
 * import { saveEmbeddings } from "../io/embeddings.ts";
 * const dir = await Deno.makeTempDir();
 * const { records } = await generateSyntheticCxr({ count: 4, seed: 1, outDir: dir, size: 64 });
 * const { set, skipped } = await embedRecords(records, {
 *   weightsDir: "weights/demo", // the tiny committed encoders; `weights` after an import
 *   cacheDir: `${dir}/cache`,
 *   progress: false,
 * });
 * await saveEmbeddings(`${dir}/embeddings.safetensors`, set);
 * console.log(skipped.length); // 0: every image decoded, every report tokenized
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function embedRecords(
  records: readonly StudyRecord[],
  opts: EmbedOptions,
): Promise<EmbedReport> {
  return await embedRun(records, opts, null) as EmbedReport;
}

/** {@link embedRecords}, or with a shard {@link embedShard}. */
async function embedRun(
  records: readonly StudyRecord[],
  opts: EmbedOptions,
  shard: Shard | null,
): Promise<EmbedReport | ShardReport> {
  if (records.length === 0) throw new Error("embed: no records");
  const unsplit = records.find((r) => r.split === null);
  if (unsplit) {
    throw new Error(
      `embed: record ${unsplit.id} has no split; assign splits first (assignPatientSplits)`,
    );
  }
  const show = opts.progress ?? true, strict = opts.strict ?? false;
  const batchSize = opts.batchSize ?? 16, flushEvery = opts.flushEvery ?? 256;
  const skipped: SkippedInput[] = [];
  const skip = (s: SkippedInput) => {
    if (strict) throw new Error(`${formatSkipped(s)} (strict: bad input is fatal)`);
    skipped.push(s);
  };
  const { runtime, reason } = await resolveRuntime(opts.runtime);
  const threads = opts.numThreads ?? navigator.hardwareConcurrency;
  const enc = await openBiomedClip(opts.weightsDir, { runtime, numThreads: threads, batchSize });
  const info = opts.info ?? (show ? console.error : () => {});
  info(
    `encoders: ${runtime}, ${runtime === "webgpu" ? "GPU" : `${threads} thread(s)`}, batch ` +
      `${batchSize}${reason ? ` (${reason})` : ""}`,
  );
  const workers = opts.preprocessWorkers ?? Math.min(navigator.hardwareConcurrency, 8);
  const pool = workers > 0 ? new PreprocessPool(workers) : null;
  try {
    const tokenizer = await openTokenizer(opts.weightsDir, enc.manifest);
    const ids = encoderIds(enc.manifest), familyName = encoderFamilyName(enc.manifest);
    const size = enc.image.imageSize, context = enc.text.contextLength;
    const imageEmbedder: Embedder<Float32Array> & { name: string } = {
      name: "images",
      id: ids.image,
      dim: enc.image.embedDim,
      embed: (items) => {
        const per = 3 * size * size;
        const pixels = new Float32Array(items.length * per);
        items.forEach((x, i) => pixels.set(x, i * per));
        return enc.image.encode(pixels);
      },
    };
    const textEmbedder: Embedder<string> & { name: string } = {
      name: "reports",
      id: ids.text,
      dim: enc.text.embedDim,
      embed: (texts) => {
        const { ids, mask } = tokenizer.encodeBatch(texts, context);
        return enc.text.encode(ids, mask);
      },
    };

    // Reports first: checking them is cheap, so a strict run fails before any encoder runs.
    const dropped: DroppedStudy[] = [];
    const withText = records.filter((r) => {
      const reason = reportProblem(tokenizer, r.report);
      if (reason === null) return true;
      skip({ kind: "report", path: null, ids: [r.id], reason });
      dropped.push({ id: r.id, reason });
      return false;
    });

    // Content keys of the images: SHA-256 of each file.
    const studiesOf = new Map<string, string[]>();
    for (const r of withText) for (const p of new Set(r.imagePaths)) append(studiesOf, p, r.id);
    const paths = [...studiesOf.keys()];
    const hashing = show ? new Progress("hash images", paths.length, "images") : null;
    const imageKey = new Map<string, string>(), pathsOf = new Map<string, string[]>();
    for (const [i, p] of paths.entries()) {
      const bytes = await readImageFile(p).catch((e) => {
        if (!(e instanceof BadItemError)) throw e;
        skip({ kind: "image", path: p, ids: studiesOf.get(p)!, reason: e.message });
        return null;
      });
      if (bytes) {
        const key = await contentHash(bytes);
        imageKey.set(p, key);
        append(pathsOf, key, p);
      }
      hashing?.update(i + 1);
    }
    hashing?.done();
    const imageItems = [...imageKey]
      .filter(([, key]) => !shard || inShard(key, shard))
      .map(([p, key]) => ({
        key,
        load: () => pool ? pool.load(p, size) : loadImageFile(p, size),
      }));

    const reportKey = new Map<string, string>();
    for (const r of withText) reportKey.set(r.id, await contentHash(r.report));
    const reportItems = withText
      .map((r) => ({ key: reportKey.get(r.id)!, load: () => r.report }))
      .filter((it) => !shard || inShard(it.key, shard));
    const imageCache = await EmbeddingCache.open(
      opts.cacheDir,
      imageEmbedder.id,
      imageEmbedder.dim,
    );
    const textCache = await EmbeddingCache.open(opts.cacheDir, textEmbedder.id, textEmbedder.dim);

    // The estimate: reports at the rate of one batch timed now, images at the fill's.
    const todo = {
      images: uncached(imageCache, imageItems),
      reports: uncached(textCache, reportItems),
    };
    const rate = { images: 0, reports: 0 };
    if (todo.reports.length > 0) {
      const sample = await Promise.all(todo.reports.slice(0, batchSize).map((it) => it.load()));
      const t0 = performance.now();
      await textEmbedder.embed(sample);
      rate.reports = sample.length / ((performance.now() - t0) / 1000);
    }
    let announced = todo.images.length + todo.reports.length === 0;
    const announce = () => {
      if (!announced) info(estimateLine(todo.images.length, todo.reports.length, rate));
      announced = true;
    };
    if (todo.images.length === 0) announce();

    const fill = async <T>(
      cache: EmbeddingCache,
      embedder: Embedder<T> & { name: string },
      items: CacheItem<T>[],
      onSkip?: (item: CacheItem<T>, error: BadItemError) => void,
    ) => {
      let progress: Progress | null = null;
      let first: { done: number; at: number } | null = null;
      const t0 = performance.now();
      const n = await cache.fill(items, embedder, {
        batchSize,
        flushEvery,
        onProgress: (done, total) => {
          // Images at the rate of batches 2-4 (the first one also starts the workers and JIT).
          if (embedder === imageEmbedder && done > 0 && !announced) {
            const now = performance.now();
            if (first && (done - first.done >= 3 * batchSize || done === total)) {
              rate.images = (done - first.done) / ((now - first.at) / 1000);
              announce();
            } else if (!first && done === total) {
              rate.images = done / ((now - t0) / 1000);
              announce();
            } else first ??= { done, at: now };
          }
          if (!show) return;
          progress ??= new Progress(`embed ${embedder.name}`, total, embedder.name);
          progress.update(done);
        },
        onSkip,
      });
      (progress as Progress | null)?.done();
      return { cache, n };
    };
    // Files with the same bytes share one cache item; each of them is named.
    const images = await fill(imageCache, imageEmbedder, imageItems, (item, e) => {
      for (const p of pathsOf.get(item.key)!) {
        skip({ kind: "image", path: p, ids: studiesOf.get(p)!, reason: e.message });
      }
    });
    if (shard) {
      const texts = await fill(textCache, textEmbedder, reportItems);
      if (skipped.length > 0) {
        (opts.log ?? console.warn)(
          [
            `embed: shard ${shard.index}/${shard.count} skipped ${skipped.length} input(s)`,
            ...skipped.map((x) => `  ${formatSkipped(x)}`),
          ].join("\n"),
        );
      }
      return { embedded: { images: images.n, reports: texts.n }, skipped };
    }
    const kept: { record: StudyRecord; images: Float32Array[]; paths: string[] }[] = [];
    for (const r of withText) {
      const paths = r.imagePaths.filter((p) => {
        const key = imageKey.get(p);
        return key !== undefined && images.cache.has(key);
      });
      const good = paths.map((p) => images.cache.get(imageKey.get(p)!));
      if (good.length > 0) kept.push({ record: r, images: good, paths });
      else {
        const reason = `none of its ${r.imagePaths.length} image(s) could be embedded`;
        dropped.push({ id: r.id, reason });
      }
    }
    const order = new Map(records.map((r, i) => [r.id, i]));
    dropped.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    const rows = kept.map((k) => k.record);
    const textKeys = rows.map((r) => reportKey.get(r.id)!);
    const texts = await fill(
      textCache,
      textEmbedder,
      rows.map((r, i) => ({ key: textKeys[i], load: () => r.report })),
    );

    if (skipped.length > 0) {
      (opts.log ?? console.warn)(summarizeSkipped(skipped, dropped, kept.length));
    }
    if (kept.length === 0) {
      throw new Error(
        `embed: all ${records.length} studies were dropped; first: ${dropped[0].id}: ${
          dropped[0].reason
        }`,
      );
    }
    const count = kept.length, dim = imageEmbedder.dim;
    if (textEmbedder.dim !== dim) {
      throw new Error(`embed: image embeddings are ${dim}-wide, text ${textEmbedder.dim}-wide`);
    }
    const image = new Float32Array(count * dim), text = new Float32Array(count * dim);
    const imageCount = kept.reduce((a, k) => a + k.images.length, 0);
    const each = new Float32Array(imageCount * dim), eachStudy = new Int32Array(imageCount);
    let m = 0;
    kept.forEach(({ images: es }, i) => {
      for (const e of es) {
        for (let j = 0; j < dim; j++) image[i * dim + j] += e[j] / es.length;
        each.set(e, m * dim);
        eachStudy[m++] = i;
      }
      text.set(texts.cache.get(textKeys[i]), i * dim);
    });
    const set: EmbeddingSet = {
      ids: rows.map((r) => r.id),
      image,
      text,
      label: Int32Array.from(rows, (r) => r.label),
      split: Int32Array.from(rows, (r) => SPLIT_CODES[r.split!]),
      count,
      dim,
      metadata: {
        image_encoder: imageEmbedder.id,
        text_encoder: textEmbedder.id,
        ...(familyName ? { encoder_name: familyName } : {}),
        synthetic: String(rows.every((r) => r.meta?.synthetic === true)),
      },
      studies: kept.map(({ record: r, paths }) => ({
        patientId: r.patientId,
        findings: r.findings,
        report: r.report,
        imagePaths: paths,
      })),
      images: { values: each, study: eachStudy, count: imageCount },
    };
    return { set, embedded: { images: images.n, reports: texts.n }, skipped, dropped };
  } finally {
    pool?.close();
    await enc.image.release();
    await enc.text.release();
  }
}

/** The items not in `cache`, each key once. */
function uncached<T>(cache: EmbeddingCache, items: readonly CacheItem<T>[]): CacheItem<T>[] {
  const seen = new Set<string>();
  return items.filter((it) => !cache.has(it.key) && !seen.has(it.key) && seen.add(it.key));
}

/** The start line's estimate of the whole embedding, from the rates of the first batches. */
function estimateLine(images: number, reports: number, rate: { images: number; reports: number }) {
  const parts: string[] = [];
  let seconds = 0;
  for (
    const [n, r, unit] of [[images, rate.images, "images"], [
      reports,
      rate.reports,
      "reports",
    ]] as const
  ) {
    if (n === 0) continue;
    parts.push(`${n} ${unit} at ${r.toFixed(1)} ${unit}/s`);
    seconds += n / r;
  }
  return `embed: ${parts.join(" and ")} (measured): about ${formatDuration(seconds)}`;
}

function append(map: Map<string, string[]>, key: string, value: string) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
