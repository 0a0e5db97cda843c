/**
 * A small searchable demo in seconds: SYNTHETIC studies embedded by the demo encoders
 * (`weights/demo`) and heads trained on them, in a folder of their own. `deno task train` makes
 * the full-size one (`logs/demo/`); this one serves examples, tests and the load test.
 *
 * @module
 */

import { join } from "node:path";
import { generateSyntheticCxr } from "../data/synthetic_cxr.ts";
import { embedRecords } from "../encoders/embed_dataset.ts";
import { saveEmbeddings, splitRows } from "../io/embeddings.ts";
import { train } from "../train/trainer.ts";

/** Options of {@link trainDemoCollection}. */
export interface DemoCollectionOptions {
  /** Folder to write into (default: a new temporary folder). */
  dir?: string;
  /** Studies (default 24). */
  count?: number;
  /** Training epochs (default 8). */
  epochs?: number;
  /** Seed of the images, reports, splits and training (default 7). */
  seed?: number;
}

/** The files of a trained demo collection. */
export interface DemoCollection {
  /** The folder holding everything below. */
  dir: string;
  /** The trained heads (`<dir>/logs/demo/checkpoints/best.safetensors`). */
  checkpoint: string;
  /** The embeddings file with studies and per-image embeddings (`<dir>/embeddings.safetensors`). */
  collection: string;
  /** The studies' images, in collection order. */
  imagePaths: string[];
  /** The studies' reports, in collection order. */
  reports: string[];
  /** Deletes the folder. */
  remove(): Promise<void>;
}

/**
 * Generates `count` SYNTHETIC studies, embeds them with `weights/demo` and trains heads on them
 * (GPU), all under `dir`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection({ count: 16, epochs: 2 });
 *   demo.imagePaths.length; // 16
 *   await demo.remove();
 * }
 * ```
 */
export async function trainDemoCollection(o: DemoCollectionOptions = {}): Promise<DemoCollection> {
  const dir = o.dir ?? await Deno.makeTempDir({ prefix: "cxr-demo-" });
  const seed = o.seed ?? 7;
  const { records } = await generateSyntheticCxr({
    count: o.count ?? 24,
    seed,
    outDir: join(dir, "data"),
  });
  const { set } = await embedRecords(records, {
    weightsDir: "weights/demo",
    cacheDir: join(dir, "cache"),
    progress: false,
  });
  const collection = join(dir, "embeddings.safetensors");
  await saveEmbeddings(collection, set);
  const epochs = o.epochs ?? 8, batchSize = Math.min(16, splitRows(set, "train").length);
  const { logDir } = await train({
    trainData: set,
    batchSize,
    epochs,
    seed,
    logs: join(dir, "logs"),
    name: "demo",
    quiet: true,
  });
  return {
    dir,
    checkpoint: join(logDir, "checkpoints", "best.safetensors"),
    collection,
    imagePaths: set.studies!.map((s) => s.imagePaths[0]),
    reports: set.studies!.map((s) => s.report),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
