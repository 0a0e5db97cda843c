/**
 * What `--resume` checks before it continues a run: the options that shape every step (batch
 * size, loss weights and temperature, the kind of input normalization) must be the ones the
 * checkpoint was trained with, and the input statistics the heads were trained on are the
 * checkpoint's, whatever the data gives now.
 *
 * @module
 */

import type { InputNorm } from "../model/input_norm.ts";
import type { Checkpoint } from "../model/checkpoint.ts";

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
 * // assertResumable(checkpoint.config, options, "logs/run/checkpoints/epoch_latest.safetensors");
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
 * // if (normDifference(checkpoint.inputNorm, fromData) > 0) log("taking the checkpoint's");
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
