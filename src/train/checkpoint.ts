/**
 * Checkpoints in safetensors, loadable by PyTorch users: every head parameter under its PyTorch
 * name and layout (`image_head.0.weight` [out, in], …, `logit_scale` []), the AdamW moments as
 * flat tensors in our buffer layout, and in `__metadata__` the configuration and the exact
 * training position, so `--resume` continues bit for bit.
 *
 * @module
 */

import type { HeadConfig } from "../model/config.ts";
import type { InputNorm } from "../model/input_norm.ts";
import { ParameterLayout } from "../model/parameters.ts";
import {
  asF32,
  readSafetensors,
  type Tensor,
  tensor,
  writeSafetensors,
} from "../io/safetensors.ts";

/** Format tag written to `__metadata__.format`. */
export const CHECKPOINT_FORMAT = "cxr-retrieval-heads/1";

/** Where training stands: enough to continue exactly. */
export interface TrainPosition {
  /** Epoch being trained (0-based); equals the number of finished epochs at an epoch boundary. */
  epoch: number;
  /** Steps of `epoch` already done. */
  stepInEpoch: number;
  /** Optimizer steps done in total. */
  optimizerStep: number;
  /** Best validation metric so far and its epoch (-1 when none). */
  best: { metric: string; value: number; epoch: number };
  /** Epochs since the best one (early stopping). */
  epochsWithoutImprovement: number;
}

/** Contents of a checkpoint. */
export interface Checkpoint {
  /** Head configuration. */
  head: HeadConfig;
  /** The full training configuration as JSON-able data (flags). */
  config: Record<string, unknown>;
  /** Training position. */
  position: TrainPosition;
  /** Flat parameters in our layout. */
  params: Float32Array<ArrayBuffer>;
  /** Input standardization the heads were trained with. */
  inputNorm: InputNorm;
  /** AdamW first moments (flat), absent in a heads-only file. */
  m?: Float32Array<ArrayBuffer>;
  /** AdamW second moments (flat). */
  v?: Float32Array<ArrayBuffer>;
}

/**
 * Writes a checkpoint atomically.
 * @example
 * ```ts
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 * const norm = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) }; // identity
 * const best = { metric: "mean_recall", value: 0.5, epoch: 0 };
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(`${dir}/epoch_1.safetensors`, {
 *   head,
 *   config: { lr: 1e-3 },
 *   position: { epoch: 1, stepInEpoch: 0, optimizerStep: 10, best, epochsWithoutImprovement: 0 },
 *   params: initialParameters(new ParameterLayout(head), 42),
 *   inputNorm: { image: norm, text: norm },
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const layout = new ParameterLayout(c.head);
  if (c.params.length !== layout.length) {
    throw new Error(
      `checkpoint ${path}: ${c.params.length} parameters, layout needs ${layout.length}`,
    );
  }
  const tensors = new Map<string, Tensor>();
  for (const [e, values] of layout.toTorch(c.params)) {
    tensors.set(e.name, tensor(values, e.torchShape));
  }
  for (const tower of ["image", "text"] as const) {
    const { mean, std } = c.inputNorm[tower];
    tensors.set(`input_norm.${tower}_mean`, tensor(mean, [mean.length]));
    tensors.set(`input_norm.${tower}_std`, tensor(std, [std.length]));
  }
  if (c.m && c.v) {
    tensors.set("optimizer.exp_avg", tensor(c.m, [c.m.length]));
    tensors.set("optimizer.exp_avg_sq", tensor(c.v, [c.v.length]));
  }
  await writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    head: JSON.stringify(c.head),
    config: JSON.stringify(c.config),
    position: JSON.stringify(c.position),
  });
}

/**
 * Reads a checkpoint; errors name the file and the tensor or key that is wrong.
 * @example
 * ```ts
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 * const norm = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) }; // identity
 * const best = { metric: "mean_recall", value: 0.5, epoch: 0 };
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(`${dir}/epoch_1.safetensors`, {
 *   head,
 *   config: { lr: 1e-3 },
 *   position: { epoch: 1, stepInEpoch: 0, optimizerStep: 10, best, epochsWithoutImprovement: 0 },
 *   params: initialParameters(new ParameterLayout(head), 42),
 *   inputNorm: { image: norm, text: norm },
 * });
 * const c = await loadCheckpoint(`${dir}/epoch_1.safetensors`);
 * c.position.optimizerStep; // 10
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${path}: not a projector checkpoint (format "${metadata.format}", expected "${CHECKPOINT_FORMAT}")`,
    );
  }
  const head = JSON.parse(metadata.head) as HeadConfig;
  const layout = new ParameterLayout(head);
  const params = layout.fromTorch((e) => {
    const t = tensors.get(e.name);
    if (!t) throw new Error(`${path}: missing tensor "${e.name}"`);
    if (JSON.stringify(t.shape) !== JSON.stringify(e.torchShape)) {
      throw new Error(
        `${path}: tensor "${e.name}" is [${t.shape}], the config needs [${e.torchShape}]`,
      );
    }
    return asF32(t, e.name, path);
  });
  const moment = (name: string) => {
    const t = tensors.get(name);
    if (!t) return undefined;
    const values = asF32(t, name, path);
    if (values.length !== layout.length) {
      throw new Error(`${path}: "${name}" has ${values.length} values, expected ${layout.length}`);
    }
    return values;
  };
  const norm = (name: string) => {
    const t = tensors.get(`input_norm.${name}`);
    if (!t) throw new Error(`${path}: missing tensor "input_norm.${name}"`);
    const values = asF32(t, name, path);
    if (values.length !== head.inDim) {
      throw new Error(
        `${path}: "input_norm.${name}" has ${values.length} values, expected ${head.inDim}`,
      );
    }
    return values;
  };
  return {
    head,
    inputNorm: {
      image: { mean: norm("image_mean"), std: norm("image_std") },
      text: { mean: norm("text_mean"), std: norm("text_std") },
    },
    config: JSON.parse(metadata.config ?? "{}"),
    position: JSON.parse(metadata.position),
    params,
    m: moment("optimizer.exp_avg"),
    v: moment("optimizer.exp_avg_sq"),
  };
}

/**
 * Throws, naming the first differing field, unless a checkpoint's head matches the run's.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const head = { inDim: 512, hidden: 512, outDim: 256, layers: 2, dropout: 0.1 };
 * assertSameHead(head, head, "best.safetensors"); // passes
 * const other = { ...head, hidden: 256 };
 * assert.throws(() => assertSameHead(other, head, "best.safetensors"), /hidden=256, this run has/);
 * ```
 */
export function assertSameHead(found: HeadConfig, expected: HeadConfig, path: string): void {
  for (const k of Object.keys(expected) as (keyof HeadConfig)[]) {
    if (found[k] !== expected[k]) {
      throw new Error(
        `${path}: checkpoint was trained with ${k}=${found[k]}, this run has ${k}=${
          expected[k]
        }; ` +
          `use the same head flags or start a new run`,
      );
    }
  }
}
