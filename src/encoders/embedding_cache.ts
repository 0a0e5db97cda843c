/**
 * The embedding cache: the frozen encoders run once per item. Each embedding is keyed by the
 * encoder's id (hash of its model and preprocessing) and the item's content hash (SHA-256 of
 * the image file's bytes, or of the report's text), so a second run embeds only what changed.
 *
 * Storage is append-only: each flush writes one new shard (`shard-000001.safetensors`, …) under
 * `<dir>/<encoder id>/`, atomically (temporary file + rename). A run killed at any point loses at
 * most the items embedded since its last flush; a rerun reads every shard and carries on.
 *
 * @module
 */

import { join } from "node:path";
import { asF32, readSafetensors, tensor, writeSafetensors } from "../io/safetensors.ts";
import { sha256Hex } from "./manifest.ts";

/**
 * Something that embeds items of type T in batches: the image tower with its preprocessing, or
 * the text tower with its tokenizer.
 */
export interface Embedder<T> {
  /** Identity of the model and its preprocessing (changing either changes every key). */
  id: string;
  /** Embedding width. */
  dim: number;
  /** Embeds the items; returns items.length·dim values. */
  embed(items: T[]): Promise<Float32Array>;
}

/** An item to embed: its content key and how to load it when it is not cached. */
export interface CacheItem<T> {
  /** Content hash. */
  key: string;
  /**
   * Loads the item (read and decode the image, or return the text); throws a
   * {@link BadItemError} when the item itself is unusable.
   */
  load: () => Promise<T> | T;
}

/**
 * Thrown by a {@link CacheItem}'s `load` when the item itself cannot be embedded (an undecodable
 * image): {@link EmbeddingCache.fill} skips it instead of stopping, if its caller says so.
 * @example
 * ```ts
 * const item = { key: "k", load: () => { throw new BadItemError("corrupt PNG"); } };
 * ```
 */
export class BadItemError extends Error {
  /** @param reason what is wrong with the item */
  constructor(reason: string) {
    super(reason);
    this.name = "BadItemError";
  }
}

/**
 * Hex SHA-256 of bytes or of a string's UTF-8.
 * @example
 * ```ts
 * await contentHash("no acute cardiopulmonary process"); // 64 hex digits
 * ```
 */
export async function contentHash(content: Uint8Array<ArrayBuffer> | string): Promise<string> {
  return await sha256Hex(typeof content === "string" ? new TextEncoder().encode(content) : content);
}

/**
 * Embeddings of one encoder, by content key, persisted as append-only shards.
 * @example
 * ```ts
 * const embedder: Embedder<string> = { // stands in for the text tower and its tokenizer
 *   id: "length-v1",
 *   dim: 2,
 *   embed: (texts) => Promise.resolve(Float32Array.from(texts.flatMap((t) => [t.length, 1]))),
 * };
 * const texts = ["No effusion.", "Small left effusion."];
 * const items = await Promise.all(
 *   texts.map(async (text) => ({ key: await contentHash(text), load: () => text })),
 * );
 * const root = await Deno.makeTempDir();
 * const cache = await EmbeddingCache.open(root, embedder.id, embedder.dim);
 * await cache.fill(items, embedder, { batchSize: 16, flushEvery: 256 }); // 2 embedded
 * const e = cache.get(items[0].key); // [12, 1]
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class EmbeddingCache {
  /** Folder of this encoder's shards. */
  readonly dir: string;
  /** Embedding width. */
  readonly dim: number;
  readonly #rows = new Map<string, Float32Array>();
  #shards = 0;

  private constructor(dir: string, dim: number) {
    this.dir = dir;
    this.dim = dim;
  }

  /** Opens (creating if needed) the cache of encoder `id` under `root` and reads its shards. */
  static async open(root: string, id: string, dim: number): Promise<EmbeddingCache> {
    if (!/^[\w.-]+$/.test(id)) {
      throw new Error(`embedding cache: encoder id "${id}" is not a file name`);
    }
    const cache = new EmbeddingCache(join(root, id), dim);
    await Deno.mkdir(cache.dir, { recursive: true });
    const names: string[] = [];
    for await (const e of Deno.readDir(cache.dir)) {
      if (/^shard-\d{6}\.safetensors$/.test(e.name)) names.push(e.name);
    }
    names.sort();
    for (const name of names) {
      const path = join(cache.dir, name);
      const { tensors, metadata } = await readSafetensors(path);
      const t = tensors.get("embeddings");
      const keys = JSON.parse(metadata.keys ?? "null") as string[] | null;
      if (!t || !Array.isArray(keys) || t.shape[0] !== keys.length || t.shape[1] !== dim) {
        throw new Error(
          `${path}: not a cache shard of ${dim}-wide embeddings (delete it to re-embed its items)`,
        );
      }
      const values = asF32(t, "embeddings", path);
      keys.forEach((k, i) => cache.#rows.set(k, values.subarray(i * dim, (i + 1) * dim)));
      cache.#shards = Math.max(cache.#shards, Number(name.slice(6, 12)));
    }
    return cache;
  }

  /** Number of cached embeddings. */
  get size(): number {
    return this.#rows.size;
  }

  /** Every cached key, in the order the shards hold them. */
  keys(): string[] {
    return [...this.#rows.keys()];
  }

  /** Whether `key` is cached. */
  has(key: string): boolean {
    return this.#rows.has(key);
  }

  /** The embedding of `key`; throws when it is not cached. */
  get(key: string): Float32Array {
    const row = this.#rows.get(key);
    if (!row) throw new Error(`embedding cache ${this.dir}: no embedding for ${key}`);
    return row;
  }

  /** Adds embeddings (keys.length·dim values) and writes them as one new shard, atomically. */
  async add(keys: string[], values: Float32Array<ArrayBuffer>): Promise<void> {
    if (values.length !== keys.length * this.dim) {
      throw new Error(
        `embedding cache: ${values.length} values for ${keys.length} keys of ${this.dim}`,
      );
    }
    if (keys.length === 0) return;
    const name = `shard-${String(this.#shards + 1).padStart(6, "0")}.safetensors`;
    await writeSafetensors(
      join(this.dir, name),
      new Map([["embeddings", tensor(values, [keys.length, this.dim])]]),
      { keys: JSON.stringify(keys) },
    );
    this.#shards++;
    keys.forEach((k, i) => this.#rows.set(k, values.subarray(i * this.dim, (i + 1) * this.dim)));
  }

  /**
   * Embeds every item not yet cached (duplicates of a key once), `batchSize` at a time, writing
   * a shard every `flushEvery` items; reports progress after each batch. The next batch's items
   * load while a batch embeds. An item whose load
   * throws a {@link BadItemError} is skipped and passed to `onSkip` (default: the error is
   * rethrown) after the rest of its batch is embedded. Whatever ends the fill early (a throw
   * from `onSkip`, a failing encoder), what was embedded before is written first. Returns how
   * many items were embedded.
   */
  async fill<T>(
    items: readonly CacheItem<T>[],
    embedder: Embedder<T>,
    opts: {
      batchSize: number;
      flushEvery: number;
      onProgress?: (done: number, total: number) => void;
      onSkip?: (item: CacheItem<T>, error: BadItemError) => void;
    },
  ): Promise<number> {
    if (embedder.dim !== this.dim) {
      throw new Error(
        `embedding cache of width ${this.dim} cannot take a ${embedder.dim}-wide encoder`,
      );
    }
    const seen = new Set<string>();
    const missing = items.filter((it) =>
      !this.has(it.key) && !seen.has(it.key) && seen.add(it.key)
    );
    const onSkip = opts.onSkip ?? ((_: CacheItem<T>, e: BadItemError) => {
      throw e;
    });
    let pendingKeys: string[] = [];
    let pending: Float32Array[] = [];
    const flush = async () => {
      const values = new Float32Array(pendingKeys.length * this.dim);
      pending.forEach((p, i) => values.set(p, i * this.dim));
      await this.add(pendingKeys, values);
      pendingKeys = [];
      pending = [];
    };
    let embedded = 0;
    if (missing.length > 0) opts.onProgress?.(0, missing.length);
    const loadBatch = (start: number) =>
      Promise.allSettled(
        missing.slice(start, start + opts.batchSize).map(async (it) => await it.load()),
      );
    let next = loadBatch(0);
    try {
      for (let start = 0; start < missing.length; start += opts.batchSize) {
        const batch = missing.slice(start, start + opts.batchSize);
        const settled = await next;
        // The next batch loads (in workers, where the loader uses them) while this one embeds.
        if (start + opts.batchSize < missing.length) next = loadBatch(start + opts.batchSize);
        const good: string[] = [], loaded: T[] = [];
        const bad: [CacheItem<T>, BadItemError][] = [];
        settled.forEach((s, i) => {
          if (s.status === "fulfilled") {
            good.push(batch[i].key);
            loaded.push(s.value);
          } else if (s.reason instanceof BadItemError) bad.push([batch[i], s.reason]);
          else throw s.reason;
        });
        if (loaded.length > 0) {
          const values = await embedder.embed(loaded);
          good.forEach((key, i) => {
            pendingKeys.push(key);
            pending.push(values.slice(i * this.dim, (i + 1) * this.dim));
          });
          embedded += good.length;
        }
        for (const [it, e] of bad) onSkip(it, e);
        if (pendingKeys.length >= opts.flushEvery) await flush();
        opts.onProgress?.(Math.min(start + batch.length, missing.length), missing.length);
      }
    } catch (e) {
      await flush();
      throw e;
    }
    await flush();
    return embedded;
  }
}

/** Rows per shard written by {@link mergeEmbeddingCaches}. */
const MERGE_ROWS = 65536;

/**
 * Merges the embedding cache under `from` into the one under `into`: for every encoder folder of
 * `from`, the embeddings whose keys `into` lacks are added as new shards (atomically, as any
 * flush). Keys are content hashes under the encoder's id, so caches filled on several machines
 * (`deno task embed --shard i/n`) merge without conflict. Returns how many embeddings were added.
 * @example
 * ```ts
 * const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
 * await (await EmbeddingCache.open(b, "enc-v1", 2)).add(["k1"], new Float32Array([1, 2]));
 * await mergeEmbeddingCaches(a, b); // 1
 * (await EmbeddingCache.open(a, "enc-v1", 2)).get("k1"); // [1, 2]
 * await Deno.remove(a, { recursive: true });
 * await Deno.remove(b, { recursive: true });
 * ```
 */
export async function mergeEmbeddingCaches(into: string, from: string): Promise<number> {
  let added = 0;
  for await (const e of Deno.readDir(from)) {
    if (!e.isDirectory) continue;
    const source = join(from, e.name);
    const first = [...Deno.readDirSync(source)].map((f) => f.name).sort()
      .find((n) => /^shard-\d{6}\.safetensors$/.test(n));
    if (!first) continue;
    const t = (await readSafetensors(join(source, first))).tensors.get("embeddings");
    if (!t || t.shape.length !== 2) throw new Error(`${join(source, first)}: not a cache shard`);
    const src = await EmbeddingCache.open(from, e.name, t.shape[1]);
    const dst = await EmbeddingCache.open(into, e.name, t.shape[1]);
    const keys = src.keys().filter((k) => !dst.has(k));
    for (let start = 0; start < keys.length; start += MERGE_ROWS) {
      const part = keys.slice(start, start + MERGE_ROWS);
      const values = new Float32Array(part.length * dst.dim);
      part.forEach((k, i) => values.set(src.get(k), i * dst.dim));
      await dst.add(part, values);
    }
    added += keys.length;
  }
  return added;
}
