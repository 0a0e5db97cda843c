/**
 * A short training on SYNTHETIC embeddings, for tests of what comes after training (reports,
 * evaluation): the set, saved as an embeddings file, and a run with its `best` checkpoint.
 *
 * @module
 */

import { join } from "node:path";
import { syntheticEmbeddings } from "../../src/data/synthetic_embeddings.ts";
import type { GpuContext } from "../../src/gpu/context.ts";
import { type EmbeddingSet, saveEmbeddings } from "../../src/io/embeddings.ts";
import { train, type TrainResult } from "../../src/train/trainer.ts";

/** The charts of `deno task eval`'s report with one checkpoint, in page order. */
export const EVAL_CHARTS: readonly string[] = [
  "bars_image_to_text",
  "bars_text_to_image",
  "roc_image",
  "roc_text",
  "tsne_image_no_head",
  "tsne_image_checkpoint",
  "tsne_report_no_head",
  "tsne_report_checkpoint",
];

/** What {@link tinyRun} made. */
export interface TinyRun {
  /** 240 SYNTHETIC pairs of 16-wide embeddings (60 in the test split). */
  set: EmbeddingSet;
  /** The set saved as `<dir>/embeddings.safetensors`. */
  embeddings: string;
  /** The training's result; the run is `<dir>/logs/tiny`. */
  run: TrainResult;
  /** The run's options (for a report's configuration). */
  config: Record<string, number>;
  /** `<dir>/logs/tiny/checkpoints/best.safetensors`. */
  checkpoint: string;
}

/**
 * Trains heads for 4 epochs on SYNTHETIC embeddings in `dir`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../../src/gpu/context.ts";
 * const gpu = await tryGetGpu();
 * if (gpu) {
 *   const dir = await Deno.makeTempDir();
 *   const { checkpoint } = await tinyRun(gpu, dir);
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function tinyRun(gpu: GpuContext, dir: string): Promise<TinyRun> {
  const set = syntheticEmbeddings({
    count: 240,
    dim: 16,
    latent: 4,
    noise: 0.3,
    validation: 0.2,
    test: 0.25,
    seed: 5,
  });
  set.metadata.synthetic = "true";
  const embeddings = join(dir, "embeddings.safetensors");
  await saveEmbeddings(embeddings, set);
  const config = { batchSize: 32, epochs: 4, lr: 3e-3, warmup: 2 };
  const head = { hidden: 32, outDim: 16, layers: 2, dropout: 0.1 };
  const logs = join(dir, "logs");
  const run = await train({ trainData: set, ...config, head, logs, name: "tiny", quiet: true }, {
    gpu,
  });
  return {
    set,
    embeddings,
    run,
    config,
    checkpoint: join(run.logDir, "checkpoints", "best.safetensors"),
  };
}
