/**
 * The paper's loss ablation: the projector heads trained with CLIP alone, CLIP+SupCon, CLIP+BCE
 * and all three terms, on the train split of one embeddings file (best epoch chosen on the
 * validation split, as {@link train} does), every configuration with the same budget — every
 * training option but the loss weights is shared. One run per configuration and seed, under
 * `<out>/ablation/<folder>/seed-<k>/`. A finished run recorded with the same options is reused and
 * an interrupted one resumed, so a stopped `deno task eval --ablate` goes on where it was.
 *
 * @module
 */

import { join, resolve } from "node:path";
import type { GpuContext } from "../gpu/context.ts";
import { loadEmbeddings } from "../io/embeddings.ts";
import { loadCheckpoint, type TrainPosition } from "../model/checkpoint.ts";
import { DEFAULT_LOSS, type LossConfig } from "../model/config.ts";
import { DEFAULT_TRAIN_OPTIONS, train, type TrainOptions } from "../train/trainer.ts";
import type { CheckpointSpec } from "./evaluate_models.ts";

/** One loss configuration of the ablation. */
export interface AblationConfig {
  /** The loss terms it trains with, e.g. `CLIP+SupCon`. */
  name: string;
  /** Its folder under `<out>/ablation/`. */
  folder: string;
  /** Loss weights and SupCon temperature. */
  loss: LossConfig;
}

/**
 * The four configurations of the paper: all three terms with {@link DEFAULT_LOSS}'s weights, and
 * the others with the dropped terms' weights set to 0 and the rest kept.
 * @example
 * ```ts
 * ABLATION_CONFIGS.map((c) => c.name); // ["CLIP", "CLIP+SupCon", "CLIP+BCE", "CLIP+SupCon+BCE"]
 * ABLATION_CONFIGS[2].loss; // { wClip: 1, wSupcon: 0, wBce: 0.5, temperature: 0.1 }
 * ```
 */
export const ABLATION_CONFIGS: readonly AblationConfig[] = [
  { name: "CLIP", folder: "clip", loss: { ...DEFAULT_LOSS, wSupcon: 0, wBce: 0 } },
  { name: "CLIP+SupCon", folder: "clip-supcon", loss: { ...DEFAULT_LOSS, wBce: 0 } },
  { name: "CLIP+BCE", folder: "clip-bce", loss: { ...DEFAULT_LOSS, wSupcon: 0 } },
  { name: "CLIP+SupCon+BCE", folder: "clip-supcon-bce", loss: DEFAULT_LOSS },
];

/**
 * The full composite configuration, the one `--seeds` trains without `--ablate`.
 * @example
 * ```ts
 * FULL_CONFIG.name; // "CLIP+SupCon+BCE"
 * ```
 */
export const FULL_CONFIG: AblationConfig = ABLATION_CONFIGS[3];

/**
 * The training options every configuration shares (the budget): any of {@link TrainOptions} but
 * the data, loss, seed and where the run goes; the rest are {@link DEFAULT_TRAIN_OPTIONS}.
 */
export type AblationBudget = Partial<
  Omit<TrainOptions, "trainData" | "loss" | "seed" | "logs" | "name" | "resume" | "quiet">
>;

/** What {@link trainAblation} trains. */
export interface AblationOptions {
  /** Runs go under `<out>/ablation/`. */
  out: string;
  /** Configurations (default {@link ABLATION_CONFIGS}). */
  configs?: readonly AblationConfig[];
  /** Seeds of each configuration, in order. */
  seeds: readonly number[];
  /** The options every run shares. */
  budget?: AblationBudget;
  /** Where the progress lines go (default: nowhere). */
  log?: (line: string) => void;
  /** The GPU (default: the shared one). */
  gpu?: GpuContext;
}

/** The runs of one configuration. */
export interface AblationGroup {
  /** The configuration. */
  config: AblationConfig;
  /** `<out>/ablation/<folder>`. */
  dir: string;
  /** Its seeds, in order. */
  seeds: number[];
  /** Each seed's `best.safetensors`, in seed order, named `<config>, seed <k>`. */
  checkpoints: CheckpointSpec[];
}

/**
 * The options of one run of the ablation: the budget, `config`'s loss, `seed`, in
 * `<out>/ablation/<folder>/seed-<seed>/`, quiet, and only the `best` and `epoch_latest`
 * checkpoints kept.
 * @example
 * ```ts
 * const o = runOptions("e.safetensors", "logs/eval", ABLATION_CONFIGS[0], 2, { epochs: 5 });
 * [o.logs, o.name, o.epochs, o.loss.wSupcon]; // ["logs/eval/ablation/clip", "seed-2", 5, 0]
 * ```
 */
export function runOptions(
  embeddings: string,
  out: string,
  config: AblationConfig,
  seed: number,
  budget: AblationBudget = {},
): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    saveFrequency: 0, // best and epoch_latest suffice; an epoch_N each epoch fills the disk
    ...budget,
    trainData: embeddings,
    loss: config.loss,
    seed,
    logs: join(out, "ablation", config.folder),
    name: `seed-${seed}`,
    quiet: true,
  };
}

/**
 * Trains every configuration with every seed on `embeddings` (unless a finished run with the same
 * options is there: it is reused; an interrupted one resumes) and returns the best checkpoints by
 * configuration. Runs print nothing; `log` gets a line as each starts and ends. Only `best` and
 * `epoch_latest` checkpoints are kept. Throws, naming the checkpoint and each differing option,
 * when a run folder holds a run of other options (another budget, loss or embeddings file).
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { saveEmbeddings } from "../io/embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const out = await Deno.makeTempDir();
 *   const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 *   await saveEmbeddings(`${out}/e.safetensors`, syntheticEmbeddings(o)); // SYNTHETIC
 *   const budget = { epochs: 1, batchSize: 16, head: { hidden: 16, outDim: 8, layers: 2, dropout: 0 } };
 *   const groups = await trainAblation(`${out}/e.safetensors`, { out, seeds: [0], budget, gpu });
 *   groups[0].checkpoints[0].path; // `${out}/ablation/clip/seed-0/checkpoints/best.safetensors`
 *   await Deno.remove(out, { recursive: true });
 * }
 * ```
 */
export async function trainAblation(
  embeddings: string,
  options: AblationOptions,
): Promise<AblationGroup[]> {
  const configs = options.configs ?? ABLATION_CONFIGS;
  const log = options.log ?? (() => {});
  const { count, dim } = await loadEmbeddings(embeddings);
  const total = configs.length * options.seeds.length;
  const groups: AblationGroup[] = [];
  let started = 0;
  for (const config of configs) {
    const dir = join(options.out, "ablation", config.folder);
    const checkpoints: CheckpointSpec[] = [];
    for (const seed of options.seeds) {
      const o = runOptions(embeddings, options.out, config, seed, options.budget);
      const what = `training run ${++started}/${total} (${config.name}, seed ${seed})`;
      const runDir = join(o.logs, o.name);
      const state = await runState(runDir, o, { count, dim });
      if (state.done) {
        log(`${what}: reusing ${runDir}, finished with the same options`);
      } else {
        log(
          state.position
            ? `${what}: resuming ${runDir} at epoch ${state.position.epoch} of ${o.epochs}`
            : `${what}: ${o.epochs} epoch${o.epochs === 1 ? "" : "s"} of batch ${o.batchSize} ` +
              `into ${runDir}`,
        );
        const t0 = performance.now();
        await train({ ...o, resume: state.position ? "latest" : null }, { gpu: options.gpu });
        const { best } = (await runState(runDir, o, { count, dim })).position!;
        log(
          `${what}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s, best validation ` +
            `${best.metric} ${best.value.toFixed(4)} at epoch ${best.epoch}`,
        );
      }
      const path = join(runDir, "checkpoints", "best.safetensors");
      if (!(await Deno.stat(path).catch(() => null))?.isFile) {
        throw new Error(`${path}: the run kept no best checkpoint (its ${o.valMetric} never rose)`);
      }
      checkpoints.push({ name: `${config.name}, seed ${seed}`, path });
    }
    groups.push({ config, dir, seeds: [...options.seeds], checkpoints });
  }
  return groups;
}

/**
 * Where the run in `runDir` stands: none yet (`position` null), interrupted at `position`, or
 * done. Throws when its `epoch_latest` was trained with options other than `o` on other data.
 */
async function runState(
  runDir: string,
  o: TrainOptions,
  dataset: { count: number; dim: number },
): Promise<{ position: TrainPosition | null; done: boolean }> {
  const latest = join(runDir, "checkpoints", "epoch_latest.safetensors");
  if (!(await Deno.stat(latest).catch(() => null))?.isFile) return { position: null, done: false };
  const c = await loadCheckpoint(latest);
  const differ = optionDifferences(c.config, o, dataset);
  if (differ.length > 0) {
    throw new Error(
      `${latest}: this run folder holds a run of other options: ${differ.join("; ")}. ` +
        `Remove ${runDir} to train it again, or give another --out`,
    );
  }
  const p = c.position;
  const stopped = o.earlyStopping > 0 && p.epochsWithoutImprovement >= o.earlyStopping;
  return { position: p, done: (p.epoch >= o.epochs && p.stepInEpoch === 0) || stopped };
}

/**
 * `field: run value, wanted value` for every training option (and the data's path and shape) that
 * differs between a checkpoint's recorded configuration and `o`. Where a run is written and how it
 * prints do not count.
 */
function optionDifferences(
  recorded: Record<string, unknown>,
  o: TrainOptions,
  dataset: { count: number; dim: number },
): string[] {
  const { trainData, logs: _, name: __, quiet: ___, resume: ____, ...shared } = o;
  const wanted: Record<string, unknown> = { ...shared, dataset };
  const differ: string[] = [];
  const compare = (field: string, found: unknown, expected: unknown) => {
    if (JSON.stringify(found) !== JSON.stringify(expected)) {
      differ.push(
        `${field}: run ${JSON.stringify(found) ?? "not recorded"}, wanted ${
          JSON.stringify(expected)
        }`,
      );
    }
  };
  const walk = (prefix: string, found: unknown, expected: unknown) => {
    if (typeof expected !== "object" || expected === null) {
      return compare(prefix, found, expected);
    }
    for (const [k, v] of Object.entries(expected)) {
      const f = typeof found === "object" && found !== null
        ? (found as Record<string, unknown>)[k]
        : undefined;
      walk(prefix ? `${prefix}.${k}` : k, f, v);
    }
  };
  walk("", recorded, wanted);
  const data = recorded.trainData;
  if (typeof data !== "string" || resolve(data) !== resolve(trainData as string)) {
    compare("trainData", data, trainData);
  }
  return differ;
}
