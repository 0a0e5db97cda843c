/**
 * What `--resume` checks before it continues a run: the options that shape every step (batch
 * size, loss weights and temperature, the kind of input normalization) must be the ones the
 * checkpoint was trained with, and the input statistics the heads were trained on are the
 * checkpoint's, whatever the data gives now.
 *
 * @module
 */

import type { HeadConfig } from "../model/config.ts";
import type { InputNorm } from "../model/input_norm.ts";
import { assertSameHead, type Checkpoint, loadCheckpoint } from "../model/checkpoint.ts";

/** Options a resumed run must share with its checkpoint: path in the options, and its flag. */
export const RESUME_FIELDS = {
  batchSize: "--batch-size",
  "loss.wClip": "--w-clip",
  "loss.wSupcon": "--w-supcon",
  "loss.wBce": "--w-bce",
  "loss.temperature": "--temperature",
  inputNorm: "--input-norm",
} as const;

function at(record: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>(
    (x, k) => (typeof x === "object" && x !== null ? (x as Record<string, unknown>)[k] : undefined),
    record,
  );
}

/**
 * Throws, naming the checkpoint file and every differing field with both values, unless the
 * checkpoint's recorded options equal the run's in each of {@link RESUME_FIELDS}.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const loss = { wClip: 1, wSupcon: 0.5, wBce: 0.5, temperature: 0.1 };
 * const options = { batchSize: 256, loss, inputNorm: "standard" }; // this run's
 * const path = "logs/run/checkpoints/epoch_latest.safetensors";
 * assertResumable(structuredClone(options), options, path); // trained with the same: passes
 * assert.throws(
 *   () => assertResumable({ ...options, batchSize: 64 }, options, path),
 *   /batchSize \(--batch-size\): checkpoint 64, this run 256/,
 * );
 * ```
 */
export function assertResumable(
  config: Checkpoint["config"],
  options: object,
  path: string,
): void {
  const differ: string[] = [];
  for (const [field, flag] of Object.entries(RESUME_FIELDS)) {
    const found = at(config, field), wanted = at(options, field);
    if (found !== wanted) {
      const was = found === undefined ? "not recorded" : JSON.stringify(found);
      differ.push(`${field} (${flag}): checkpoint ${was}, this run ${JSON.stringify(wanted)}`);
    }
  }
  if (differ.length > 0) {
    throw new Error(
      `${path}: cannot resume, the checkpoint was trained with other options: ` +
        `${differ.join("; ")}. Give the checkpoint's values, or start a new run (another --name)`,
    );
  }
}

/**
 * The largest absolute difference between two input standardizations (0 when equal).
 * @example
 * ```ts
 * const moments = (mean: number[]) => ({
 *   mean: new Float32Array(mean),
 *   std: new Float32Array(mean.length).fill(1),
 * });
 * const fromCheckpoint = { image: moments([0, 0]), text: moments([1, 0]) };
 * const fromData = { image: moments([0, 0.25]), text: moments([1, 0]) };
 * normDifference(fromCheckpoint, fromData); // 0.25: the data has drifted
 * ```
 */
export function normDifference(a: InputNorm, b: InputNorm): number {
  let max = 0;
  for (const tower of ["image", "text"] as const) {
    for (const k of ["mean", "std"] as const) {
      const x = a[tower][k], y = b[tower][k];
      if (x.length !== y.length) return Infinity;
      for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
    }
  }
  return max;
}

/**
 * Loads the checkpoint at `path` to continue a run from: it must hold the optimizer state and
 * have been trained with the run's head and with its {@link RESUME_FIELDS}; errors name the file.
 * @example
 * ```ts
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * import { saveCheckpoint } from "../model/checkpoint.ts";
 * const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 * const layout = new ParameterLayout(head);
 * const norm = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) }; // identity
 * const loss = { wClip: 1, wSupcon: 0, wBce: 0, temperature: 0.1 };
 * const options = { batchSize: 2, loss, inputNorm: "none" };
 * const best = { metric: "mean_recall", value: 0.5, epoch: 1 };
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(`${dir}/epoch_latest.safetensors`, {
 *   head,
 *   config: options,
 *   position: { epoch: 1, stepInEpoch: 0, optimizerStep: 10, best, epochsWithoutImprovement: 0 },
 *   params: initialParameters(layout, 42),
 *   m: new Float32Array(layout.length),
 *   v: new Float32Array(layout.length),
 *   inputNorm: { image: norm, text: norm },
 * });
 * const start = await loadResumable(`${dir}/epoch_latest.safetensors`, head, options);
 * start.position.optimizerStep; // 10: the run continues with step 11
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadResumable(
  path: string,
  head: HeadConfig,
  options: object,
): Promise<Required<Checkpoint>> {
  const c = await loadCheckpoint(path);
  assertSameHead(c.head, head, path);
  assertResumable(c.config, options, path);
  if (!c.m || !c.v) throw new Error(`${path}: has no optimizer state; cannot resume from it`);
  return c as Required<Checkpoint>;
}
