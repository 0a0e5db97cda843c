/**
 * Embeds a dataset's records with the frozen encoders, through the embedding cache, into the
 * embeddings file the trainer reads: per record, the mean image embedding of its images and the
 * embedding of its report, with its label and split.
 *
 * @module
 */

import type { StudyRecord } from "../data/record.ts";
import type { EmbeddingSet } from "../io/embeddings.ts";
import { SPLIT_CODES } from "../io/embeddings.ts";
import { Progress } from "../train/progress.ts";
import { contentHash, type Embedder, EmbeddingCache } from "./embedding_cache.ts";
import { openBiomedClip } from "./encoders.ts";
import { preprocessImage } from "./preprocess_image.ts";
import { WordPieceTokenizer } from "./tokenizer.ts";

/** Version of our preprocessing; part of the image encoder's cache id. */
const PREPROCESS_VERSION = "open_clip-bicubic-v1";

/** Options of {@link embedRecords}. */
export interface EmbedOptions {
  /** Folder written by `deno task weights import` (or `weights/demo`). */
  weightsDir: string;
  /** Root of the embedding cache. */
  cacheDir: string;
  /** Items per encoder call (default 16). */
  batchSize?: number;
  /** onnxruntime-web WASM threads (default: up to 4). */
  numThreads?: number;
  /** Items between cache flushes (default 256). */
  flushEvery?: number;
  /** Show progress lines (default true). */
  progress?: boolean;
}

/** What {@link embedRecords} did, besides the set. */
export interface EmbedReport {
  /** The embeddings, in record order. */
  set: EmbeddingSet;
  /** Images and reports embedded in this call (the rest came from the cache). */
  embedded: { images: number; reports: number };
}

/**
 * Embeds `records` (every record needs a split). Items already in the cache under the same
 * encoder are not embedded again.
 * @example
 * ```ts
 * import { generateSyntheticCxr } from "../data/synthetic_cxr.ts";
 * import { saveEmbeddings } from "../io/embeddings.ts";
 * const dir = await Deno.makeTempDir();
 * const { records } = await generateSyntheticCxr({ count: 4, seed: 1, outDir: dir, size: 64 });
 * const { set } = await embedRecords(records, {
 *   weightsDir: "weights/demo", // the tiny committed encoders; `weights` after an import
 *   cacheDir: `${dir}/cache`,
 *   progress: false,
 * });
 * await saveEmbeddings(`${dir}/embeddings.safetensors`, set);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function embedRecords(
  records: readonly StudyRecord[],
  opts: EmbedOptions,
): Promise<EmbedReport> {
  if (records.length === 0) throw new Error("embed: no records");
  const unsplit = records.find((r) => r.split === null);
  if (unsplit) {
    throw new Error(
      `embed: record ${unsplit.id} has no split; assign splits first (assignPatientSplits)`,
    );
  }
  const show = opts.progress ?? true;
  const batchSize = opts.batchSize ?? 16, flushEvery = opts.flushEvery ?? 256;
  const enc = await openBiomedClip(opts.weightsDir, { numThreads: opts.numThreads, batchSize });
  try {
    const tokenizer = await WordPieceTokenizer.fromVocabFile(enc.vocabPath);
    const files = enc.manifest.files;
    const size = enc.image.imageSize, context = enc.text.contextLength;
    const imageEmbedder: Embedder<Uint8Array> & { name: string } = {
      name: "images",
      id: `image-${files.image.sha256.slice(0, 16)}-${PREPROCESS_VERSION}-${size}`,
      dim: enc.image.embedDim,
      embed: (items) => {
        const per = 3 * size * size;
        const pixels = new Float32Array(items.length * per);
        items.forEach((bytes, i) => pixels.set(preprocessImage(bytes, { size }), i * per));
        return enc.image.encode(pixels);
      },
    };
    const textEmbedder: Embedder<string> & { name: string } = {
      name: "reports",
      id: `text-${files.text.sha256.slice(0, 16)}-${files.vocab.sha256.slice(0, 8)}-${context}`,
      dim: enc.text.embedDim,
      embed: (texts) => {
        const { ids, mask } = tokenizer.encodeBatch(texts, context);
        return enc.text.encode(ids, mask);
      },
    };

    // Content keys: SHA-256 of each image file and of each report.
    const paths = [...new Set(records.flatMap((r) => r.imagePaths))];
    const hashing = show ? new Progress("hash images", paths.length, "images") : null;
    const imageKey = new Map<string, string>();
    for (const [i, p] of paths.entries()) {
      imageKey.set(p, await contentHash(await readImage(p)));
      hashing?.update(i + 1);
    }
    hashing?.done();
    const imageItems = paths.map((p) => ({ key: imageKey.get(p)!, load: () => readImage(p) }));
    const textKeys = await Promise.all(records.map((r) => contentHash(r.report)));
    const textItems = records.map((r, i) => ({ key: textKeys[i], load: () => r.report }));

    const fill = async <T>(
      embedder: Embedder<T> & { name: string },
      items: { key: string; load: () => Promise<T> | T }[],
    ) => {
      const cache = await EmbeddingCache.open(opts.cacheDir, embedder.id, embedder.dim);
      let progress: Progress | null = null;
      const n = await cache.fill(items, embedder, {
        batchSize,
        flushEvery,
        onProgress: (done, total) => {
          if (!show) return;
          progress ??= new Progress(`embed ${embedder.name}`, total, embedder.name);
          progress.update(done);
        },
      });
      (progress as Progress | null)?.done();
      return { cache, n };
    };
    const images = await fill(imageEmbedder, imageItems);
    const texts = await fill(textEmbedder, textItems);

    const count = records.length, dim = imageEmbedder.dim;
    if (textEmbedder.dim !== dim) {
      throw new Error(`embed: image embeddings are ${dim}-wide, text ${textEmbedder.dim}-wide`);
    }
    const image = new Float32Array(count * dim), text = new Float32Array(count * dim);
    records.forEach((r, i) => {
      for (const p of r.imagePaths) {
        const e = images.cache.get(imageKey.get(p)!);
        for (let j = 0; j < dim; j++) image[i * dim + j] += e[j] / r.imagePaths.length;
      }
      text.set(texts.cache.get(textKeys[i]), i * dim);
    });
    const set: EmbeddingSet = {
      ids: records.map((r) => r.id),
      image,
      text,
      label: Int32Array.from(records, (r) => r.label),
      split: Int32Array.from(records, (r) => SPLIT_CODES[r.split!]),
      count,
      dim,
      metadata: {
        image_encoder: imageEmbedder.id,
        text_encoder: textEmbedder.id,
        synthetic: String(records.every((r) => r.meta?.synthetic === true)),
      },
    };
    return { set, embedded: { images: images.n, reports: texts.n } };
  } finally {
    await enc.image.release();
    await enc.text.release();
  }
}

async function readImage(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read image (${(e as Error).message})`);
  }
}
