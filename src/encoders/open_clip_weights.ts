/**
 * open_clip's state dict for BiomedCLIP: every key the two towers read, with its shape derived
 * from the config; loading a checkpoint (`.bin` PyTorch zip or `.safetensors`), checking it, and
 * seeded random state dicts of the same layout (for benchmarks).
 *
 * Keys, as open_clip names them:
 * - `visual.trunk.*`: the timm ViT (`patch_embed.proj`, `cls_token`, `pos_embed`,
 *   `blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `norm`);
 * - `visual.head.proj.weight`: the linear head (no bias);
 * - `text.transformer.*`: the HF BertModel (`embeddings.*`, `encoder.layer.{i}.*`);
 * - `text.proj.0.weight`, `text.proj.2.weight`: the MLP head (no biases);
 * - `logit_scale`.
 *
 * @module
 */

import { type BiomedClipConfig, checkConfig } from "./biomedclip_config.ts";
import { safetensorsStateDict } from "./safetensors_reader.ts";
import { type StateDict, toFloat32 } from "./state_dict.ts";
import { readTorchCheckpoint } from "./torch_checkpoint.ts";
import { Rng } from "../util/rng.ts";

/**
 * Keys a checkpoint may hold that the towers do not use: HF's position/token-type id buffers,
 * the BERT pooler (open_clip's CLS pooler reads the last hidden state instead) and a timm
 * classifier head.
 */
const UNUSED_KEYS = [
  /^text\.transformer\.embeddings\.(position_ids|token_type_ids)$/,
  /^text\.transformer\.pooler\.dense\.(weight|bias)$/,
  /^visual\.trunk\.head\.(weight|bias)$/,
];

/**
 * Every open_clip key the towers read, with its expected shape.
 * @example
 * ```ts
 * import { BIOMEDCLIP_CONFIG } from "./biomedclip_config.ts";
 * openClipShapes(BIOMEDCLIP_CONFIG).get("visual.head.proj.weight"); // [512, 768]
 * ```
 */
export function openClipShapes(config: BiomedClipConfig): Map<string, number[]> {
  checkConfig(config);
  const v = config.vision, t = config.text, E = config.embedDim;
  const s = new Map<string, number[]>();
  const V = "visual.trunk.", tokens = (v.imageSize / v.patchSize) ** 2 + 1;
  s.set(`${V}cls_token`, [1, 1, v.width]);
  s.set(`${V}pos_embed`, [1, tokens, v.width]);
  s.set(`${V}patch_embed.proj.weight`, [v.width, 3, v.patchSize, v.patchSize]);
  s.set(`${V}patch_embed.proj.bias`, [v.width]);
  const linear = (name: string, out: number, inp: number) => {
    s.set(`${name}.weight`, [out, inp]);
    s.set(`${name}.bias`, [out]);
  };
  const norm = (name: string, width: number) => {
    s.set(`${name}.weight`, [width]);
    s.set(`${name}.bias`, [width]);
  };
  for (let i = 0; i < v.layers; i++) {
    const b = `${V}blocks.${i}.`;
    norm(`${b}norm1`, v.width);
    linear(`${b}attn.qkv`, 3 * v.width, v.width);
    linear(`${b}attn.proj`, v.width, v.width);
    norm(`${b}norm2`, v.width);
    linear(`${b}mlp.fc1`, v.mlpDim, v.width);
    linear(`${b}mlp.fc2`, v.width, v.mlpDim);
  }
  norm(`${V}norm`, v.width);
  s.set("visual.head.proj.weight", [E, v.width]);

  const T = "text.transformer.";
  s.set(`${T}embeddings.word_embeddings.weight`, [t.vocabSize, t.width]);
  s.set(`${T}embeddings.position_embeddings.weight`, [t.maxPositions, t.width]);
  s.set(`${T}embeddings.token_type_embeddings.weight`, [t.typeVocabSize, t.width]);
  norm(`${T}embeddings.LayerNorm`, t.width);
  for (let i = 0; i < t.layers; i++) {
    const l = `${T}encoder.layer.${i}.`;
    for (const p of ["query", "key", "value"]) linear(`${l}attention.self.${p}`, t.width, t.width);
    linear(`${l}attention.output.dense`, t.width, t.width);
    norm(`${l}attention.output.LayerNorm`, t.width);
    linear(`${l}intermediate.dense`, t.intermediate, t.width);
    linear(`${l}output.dense`, t.width, t.intermediate);
    norm(`${l}output.LayerNorm`, t.width);
  }
  s.set("text.proj.0.weight", [t.projHidden, t.width]);
  s.set("text.proj.2.weight", [E, t.projHidden]);
  s.set("logit_scale", []);
  return s;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Checks a state dict against the config: every expected key present, floating-point, with the
 * expected shape, and no unknown keys. Throws one error listing every problem.
 * @param source the checkpoint's name, for the message
 * @example
 * ```ts
 * import { TINY_CONFIG } from "./biomedclip_config.ts";
 * checkOpenClipStateDict(randomOpenClipStateDict(TINY_CONFIG, 0), TINY_CONFIG, "random");
 * ```
 */
export function checkOpenClipStateDict(
  sd: StateDict,
  config: BiomedClipConfig,
  source: string,
): void {
  checkStateDict(
    sd,
    openClipShapes(config),
    UNUSED_KEYS,
    source,
    `vision ${config.vision.layers}x${config.vision.width}, ` +
      `text ${config.text.layers}x${config.text.width}, embed ${config.embedDim}`,
  );
}

/**
 * Checks a state dict against expected shapes: every expected key present, floating-point, with
 * its shape, and no key that is neither expected nor matched by `unused`. Throws one error
 * listing every problem (the first 20), naming `source` and the config (`summary`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const sd = new Map([["w", { dtype: "float32" as const, shape: [2], data: new Float32Array(2) }]]);
 * checkStateDict(sd, new Map([["w", [2]]]), [], "a.bin", "tiny");
 * assert.throws(() => checkStateDict(sd, new Map([["w", [3]]]), [], "a.bin", "tiny"), /\[2\]/);
 * ```
 */
export function checkStateDict(
  sd: StateDict,
  expected: Map<string, number[]>,
  unused: readonly RegExp[],
  source: string,
  summary: string,
): void {
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    const t = sd.get(key);
    if (!t) problems.push(`missing ${key} [${shape}]`);
    else if (!sameShape(t.shape, shape)) {
      problems.push(`${key}: shape [${t.shape}], config expects [${shape}]`);
    } else if (!["float32", "float16", "bfloat16", "float64"].includes(t.dtype)) {
      problems.push(`${key}: dtype ${t.dtype}, expected a floating-point tensor`);
    }
  }
  for (const key of sd.keys()) {
    if (!expected.has(key) && !unused.some((r) => r.test(key))) {
      problems.push(`unexpected key ${key} (not part of the configured towers)`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).map((p) => `  ${p}`).join("\n");
    const more = problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : "";
    throw new Error(
      `${source}: ${problems.length} problem(s) against the config (${summary}):\n` +
        shown + more,
    );
  }
}

/**
 * Float32 values of an open_clip weight, checked against its expected shape.
 * @example
 * ```ts
 * import { TINY_CONFIG } from "./biomedclip_config.ts";
 * const sd = randomOpenClipStateDict(TINY_CONFIG, 0);
 * const w = openClipWeight(sd, openClipShapes(TINY_CONFIG), "visual.head.proj.weight");
 * ```
 */
export function openClipWeight(
  sd: StateDict,
  shapes: Map<string, number[]>,
  key: string,
): Float32Array {
  const t = sd.get(key), shape = shapes.get(key);
  if (!shape) throw new Error(`${key} is not a key of the configured towers`);
  if (!t) throw new Error(`state dict has no ${key} [${shape}]`);
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${key}: shape [${t.shape}], config expects [${shape}]`);
  }
  return toFloat32(t, key);
}

/**
 * Parses checkpoint bytes: safetensors when `name` ends in `.safetensors`, else a PyTorch zip
 * checkpoint (`.bin`, `.pt`, `.pth`), read without executing pickle. A `module.` prefix
 * (DataParallel) is stripped.
 * @param name the file's name: picks the format, names it in errors
 * @example
 * ```ts
 * const path = "tests/fixtures/biomedclip_tiny/open_clip_tiny.bin"; // or the real 784 MB one
 * const sd = parseStateDict(await Deno.readFile(path), path);
 * sd.get("visual.head.proj.weight")?.shape; // [16, 32]
 * ```
 */
export function parseStateDict(bytes: Uint8Array, name: string): StateDict {
  const sd = name.endsWith(".safetensors")
    ? safetensorsStateDict(bytes, name)
    : readTorchCheckpoint(bytes, name);
  if (sd.size > 0 && [...sd.keys()].every((k) => k.startsWith("module."))) {
    return new Map([...sd].map(([k, t]) => [k.slice("module.".length), t]));
  }
  return sd;
}

/**
 * A seeded random state dict with every key of the configured towers (normal weights with
 * std 0.02, LayerNorm scales near 1, `logit_scale` = ln(1/0.07)): a stand-in for benchmarks.
 * @example
 * ```ts
 * import { TINY_CONFIG } from "./biomedclip_config.ts";
 * const sd = randomOpenClipStateDict(TINY_CONFIG, 42);
 * ```
 */
export function randomOpenClipStateDict(config: BiomedClipConfig, seed: number): StateDict {
  return randomStateDict(openClipShapes(config), seed, /(norm\d?|LayerNorm)\.weight$/);
}

/**
 * A seeded random state dict with every key of `shapes`: normal weights with std 0.02, the
 * LayerNorm scales (keys matching `normScale`) near 1, `logit_scale` = ln(1/0.07).
 * @example
 * ```ts
 * const sd = randomStateDict(new Map([["ln.weight", [4]], ["w", [4, 4]]]), 1, /^ln\.weight$/);
 * ```
 */
export function randomStateDict(
  shapes: Map<string, number[]>,
  seed: number,
  normScale: RegExp,
): StateDict {
  const rng = new Rng(seed);
  const sd: StateDict = new Map();
  for (const [key, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNormScale = normScale.test(key);
    if (key === "logit_scale") data[0] = Math.log(1 / 0.07);
    else {for (let i = 0; i < n; i++) {
        data[i] = (isNormScale ? 1 : 0) + 0.02 * rng.normal();
      }}
    sd.set(key, { dtype: "float32", shape, data });
  }
  return sd;
}
