/**
 * The projected index: a collection's report and image embeddings after the trained heads, kept
 * in a safetensors file beside the checkpoint (`best.index-<collection hash>.safetensors` beside
 * `best.safetensors`), so a search starts without projecting the whole collection again. The file
 * records the SHA-256 of the checkpoint file and of the collection's content; it is reused only
 * while both are unchanged, and rebuilt (written atomically, replacing the stale one) otherwise.
 * A folder that cannot be written costs the cache, not the search.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { sha256Hex } from "../encoders/manifest.ts";
import { asF32, readSafetensors, tensor, writeSafetensors } from "../io/safetensors.ts";
import type { Projector } from "../model/projector.ts";

/** Format tag of the index file (`__metadata__.format`). */
export const INDEX_FORMAT = "cxr-projected-index/1";

/** What the index is computed from. */
export interface IndexInputs {
  /** The checkpoint file the projector was loaded from. */
  checkpoint: string;
  /** Report embeddings [reports, inDim]. */
  text: Float32Array<ArrayBuffer>;
  /** Image embeddings [images, inDim]. */
  image: Float32Array<ArrayBuffer>;
  /** Row ids of the collection (part of its identity: the same vectors in another order differ). */
  ids: readonly string[];
}

/** A collection projected by a checkpoint's heads. */
export interface ProjectedIndex {
  /** Report projections [reports, outDim], unit rows. */
  text: Float32Array<ArrayBuffer>;
  /** Image projections [images, outDim], unit rows. */
  image: Float32Array<ArrayBuffer>;
  /** The index file beside the checkpoint. */
  path: string;
  /** True when it was read from that file, false when projected now. */
  cached: boolean;
}

/**
 * Hex SHA-256 identifying a collection's content: its ids, and its report and image embeddings
 * (bytes and shapes).
 * @example
 * ```ts
 * const a = { ids: ["s1"], text: new Float32Array([1, 0]), image: new Float32Array([0, 1]) };
 * const h = await collectionHash(a); // 64 hex digits
 * (await collectionHash({ ...a, ids: ["s2"] })) === h; // false
 * ```
 */
export async function collectionHash(
  c: Pick<IndexInputs, "ids" | "text" | "image">,
): Promise<string> {
  const bytes = (a: Float32Array<ArrayBuffer>) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const parts = [
    await sha256Hex(new TextEncoder().encode(JSON.stringify(c.ids))),
    await sha256Hex(bytes(c.text)),
    await sha256Hex(bytes(c.image)),
  ];
  const shape = `${INDEX_FORMAT} ${c.text.length} ${c.image.length}`;
  return await sha256Hex(new TextEncoder().encode(`${shape} ${parts.join(" ")}`));
}

/**
 * The index file of a collection beside a checkpoint.
 * @example
 * ```ts
 * indexPath("logs/demo/checkpoints/best.safetensors", "ab12cd34ef56ab78" + "0".repeat(48));
 * // "logs/demo/checkpoints/best.index-ab12cd34ef56ab78.safetensors"
 * ```
 */
export function indexPath(checkpoint: string, collection: string): string {
  const name = basename(checkpoint).replace(/\.safetensors$/, "");
  return join(dirname(checkpoint), `${name}.index-${collection.slice(0, 16)}.safetensors`);
}

/**
 * The projections of a collection by `projector` (loaded from `inputs.checkpoint`): read from
 * the index file when it matches the checkpoint's and the collection's hashes, else projected on
 * the GPU and written there atomically. `log` receives a warning when the file cannot be written.
 * @example
 * ```ts
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * import { saveCheckpoint } from "../model/checkpoint.ts";
 * import { Projector } from "../model/projector.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * if (await tryGetGpu()) {
 *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 *   const norm = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
 *   const dir = await Deno.makeTempDir(), checkpoint = `${dir}/best.safetensors`;
 *   const best = { metric: "mean_recall", value: 0, epoch: 0 };
 *   await saveCheckpoint(checkpoint, {
 *     head,
 *     config: {},
 *     position: { epoch: 0, stepInEpoch: 0, optimizerStep: 0, best, epochsWithoutImprovement: 0 },
 *     params: initialParameters(new ParameterLayout(head), 42),
 *     inputNorm: { image: norm, text: norm },
 *   });
 *   const projector = await Projector.load(checkpoint);
 *   const inputs = {
 *     checkpoint,
 *     ids: ["s1", "s2"],
 *     text: new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]),
 *     image: new Float32Array([0, 0, 1, 0, 0, 0, 0, 1]),
 *   };
 *   (await openProjectedIndex(projector, inputs)).cached; // false: projected and written
 *   (await openProjectedIndex(projector, inputs)).cached; // true: read back
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function openProjectedIndex(
  projector: Projector,
  inputs: IndexInputs,
  log: (message: string) => void = console.warn,
): Promise<ProjectedIndex> {
  const { inDim, outDim } = projector.head;
  const reports = inputs.text.length / inDim, images = inputs.image.length / inDim;
  const keys = {
    format: INDEX_FORMAT,
    checkpoint_sha256: await sha256Hex(await Deno.readFile(inputs.checkpoint)),
    collection_sha256: await collectionHash(inputs),
  };
  const path = indexPath(inputs.checkpoint, keys.collection_sha256);
  const cached = await readIndex(path, keys, { text: reports * outDim, image: images * outDim });
  if (cached) return { ...cached, path, cached: true };
  const project = async (tower: "text" | "image", x: Float32Array<ArrayBuffer>, n: number) =>
    Float32Array.from(await projector.project(tower, x, n));
  const text = await project("text", inputs.text, reports);
  const image = await project("image", inputs.image, images);
  const tensors = new Map([
    ["text", tensor(text, [reports, outDim])],
    ["image", tensor(image, [images, outDim])],
  ]);
  await writeSafetensors(path, tensors, keys).catch((e) =>
    log(`warning: the projected index is not cached (${(e as Error).message})`)
  );
  return { text, image, path, cached: false };
}

/** The index at `path` when it exists, carries `keys` and has the expected sizes; else null. */
async function readIndex(
  path: string,
  keys: Record<string, string>,
  sizes: { text: number; image: number },
): Promise<{ text: Float32Array<ArrayBuffer>; image: Float32Array<ArrayBuffer> } | null> {
  let file;
  try {
    file = await readSafetensors(path);
  } catch {
    return null; // absent or unreadable: rebuilt and replaced
  }
  if (Object.entries(keys).some(([k, v]) => file.metadata[k] !== v)) return null;
  const text = file.tensors.get("text"), image = file.tensors.get("image");
  if (text?.dtype !== "F32" || image?.dtype !== "F32") return null;
  const t = asF32(text, "text", path), i = asF32(image, "image", path);
  if (t.length !== sizes.text || i.length !== sizes.image) return null;
  if (!t.every(Number.isFinite) || !i.every(Number.isFinite)) return null;
  return { text: t, image: i };
}
