/**
 * Checkpoints in safetensors, loadable by PyTorch users: every head parameter under its PyTorch
 * name and layout (`image_head.0.weight` [out, in], …, `logit_scale` []), the AdamW moments as
 * flat tensors in our buffer layout, and in `__metadata__` the configuration and the exact
 * training position, so `--resume` continues bit for bit.
 *
 * @module
 */

import { type HeadConfig, validateHeadConfig } from "./config.ts";
import type { InputNorm } from "./input_norm.ts";
import { ParameterLayout } from "./parameters.ts";
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
 * import { initialParameters } from "./init.ts";
 * import { ParameterLayout } from "./parameters.ts";
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
 * Reads a checkpoint and checks it before use; errors name the file and the metadata field or
 * tensor that is wrong (bad JSON, a missing or ill-typed field, a cut-off file, a tensor whose
 * shape or dtype the head config does not allow, a NaN or infinite value).
 * @example
 * ```ts
 * import { initialParameters } from "./init.ts";
 * import { ParameterLayout } from "./parameters.ts";
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
      `${path}: not a projector checkpoint (__metadata__.format "${metadata.format}", ` +
        `expected "${CHECKPOINT_FORMAT}")`,
    );
  }
  const head = parseHead(jsonField(metadata, "head", path), path);
  const layout = new ParameterLayout(head);
  const values = (name: string, shape: number[]) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${path}: missing tensor "${name}"`);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) {
      throw new Error(
        `${path}: tensor "${name}" is [${t.shape}], the head config needs [${shape}]`,
      );
    }
    return finite(asF32(t, name, path), name, path);
  };
  const params = layout.fromTorch((e) => values(e.name, e.torchShape));
  const hasMoments = tensors.has("optimizer.exp_avg") || tensors.has("optimizer.exp_avg_sq");
  const norm = (tower: "image" | "text") => ({
    mean: values(`input_norm.${tower}_mean`, [head.inDim]),
    std: positive(values(`input_norm.${tower}_std`, [head.inDim]), `input_norm.${tower}_std`, path),
  });
  return {
    head,
    inputNorm: { image: norm("image"), text: norm("text") },
    config: parseConfig(jsonField(metadata, "config", path), path),
    position: parsePosition(jsonField(metadata, "position", path), path),
    params,
    m: hasMoments ? values("optimizer.exp_avg", [layout.length]) : undefined,
    v: hasMoments ? values("optimizer.exp_avg_sq", [layout.length]) : undefined,
  };
}

/** `__metadata__[key]` parsed as JSON; errors name the file and the key. */
function jsonField(metadata: Record<string, string>, key: string, path: string): unknown {
  const text = metadata[key];
  if (text === undefined) throw new Error(`${path}: __metadata__.${key} is missing`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: __metadata__.${key} is not valid JSON (${(e as Error).message})`);
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function parseHead(x: unknown, path: string): HeadConfig {
  if (!isObject(x)) throw new Error(`${path}: __metadata__.head must be a JSON object`);
  const head = x as unknown as HeadConfig;
  try {
    validateHeadConfig(head);
  } catch (e) {
    throw new Error(`${path}: __metadata__.head: ${(e as Error).message}`);
  }
  return {
    inDim: head.inDim,
    hidden: head.hidden,
    outDim: head.outDim,
    layers: head.layers,
    dropout: head.dropout,
  };
}

function parseConfig(x: unknown, path: string): Record<string, unknown> {
  if (!isObject(x)) throw new Error(`${path}: __metadata__.config must be a JSON object`);
  return x;
}

function parsePosition(x: unknown, path: string): TrainPosition {
  const where = `${path}: __metadata__.position`;
  if (!isObject(x)) throw new Error(`${where} must be a JSON object`);
  const count = (o: Record<string, unknown>, k: string, prefix: string, min = 0) => {
    const n = o[k];
    if (!Number.isSafeInteger(n) || (n as number) < min) {
      throw new Error(
        `${where}.${prefix}${k} must be an integer >= ${min}, is ${JSON.stringify(n)}`,
      );
    }
    return n as number;
  };
  const best = x.best;
  if (!isObject(best)) throw new Error(`${where}.best must be a JSON object`);
  if (typeof best.metric !== "string") {
    throw new Error(`${where}.best.metric must be a string, is ${JSON.stringify(best.metric)}`);
  }
  // JSON has no -Infinity: "no best value yet" is written as null.
  if (best.value !== null && typeof best.value !== "number") {
    throw new Error(
      `${where}.best.value must be a number or null, is ${JSON.stringify(best.value)}`,
    );
  }
  return {
    epoch: count(x, "epoch", ""),
    stepInEpoch: count(x, "stepInEpoch", ""),
    optimizerStep: count(x, "optimizerStep", ""),
    best: {
      metric: best.metric,
      value: best.value ?? -Infinity,
      epoch: count(best, "epoch", "best.", -1),
    },
    epochsWithoutImprovement: count(x, "epochsWithoutImprovement", ""),
  };
}

/** `values`, after checking that every one is finite (the first bad one is named). */
function finite<T extends Float32Array>(values: T, name: string, path: string): T {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new Error(
      `${path}: tensor "${name}" holds ${values[bad]} at flat index ${bad}; a checkpoint must ` +
        `hold finite values`,
    );
  }
  return values;
}

/** `values`, after checking that every one is > 0 (standard deviations divide). */
function positive<T extends Float32Array>(values: T, name: string, path: string): T {
  const bad = values.findIndex((v) => !(v > 0));
  if (bad >= 0) {
    throw new Error(`${path}: tensor "${name}" holds ${values[bad]} at index ${bad}, must be > 0`);
  }
  return values;
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
