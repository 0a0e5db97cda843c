/**
 * OpenAI CLIP's state dict as open_clip names it (open_clip's `CLIP` class, the same names as
 * OpenAI's own `model.py`): every key the two towers read, with its shape derived from a
 * {@link ClipConfig}; the check of a loaded checkpoint; seeded random state dicts of the same
 * layout.
 *
 * Keys:
 * - `visual.conv1.weight` (no bias), `visual.class_embedding` [W], `visual.positional_embedding`
 *   [tokens, W], `visual.ln_pre`, `visual.transformer.resblocks.{i}.*`, `visual.ln_post`,
 *   `visual.proj` [W, E] (used as x·proj);
 * - `token_embedding.weight`, `positional_embedding` [context, W], `transformer.resblocks.{i}.*`,
 *   `ln_final`, `text_projection` [W, E];
 * - each block: `ln_1`, `attn.in_proj_weight` [3W, W] / `attn.in_proj_bias`, `attn.out_proj`,
 *   `ln_2`, `mlp.c_fc`, `mlp.c_proj` (PyTorch `nn.MultiheadAttention` and `nn.Linear` layouts);
 * - `logit_scale`.
 *
 * @module
 */

import { checkClipConfig, type ClipConfig } from "./clip_config.ts";
import { checkStateDict, randomStateDict } from "./open_clip_weights.ts";
import type { StateDict } from "./state_dict.ts";

/**
 * Keys a CLIP checkpoint may hold that the towers do not use: OpenAI's TorchScript archives
 * keep `input_resolution`, `context_length` and `vocab_size` as tensors, and older checkpoints
 * may store the causal `attn_mask` buffer (rebuilt in the graph).
 */
const CLIP_UNUSED_KEYS = [
  /^(input_resolution|context_length|vocab_size)$/,
  /^(visual\.)?(transformer\.)?attn_mask$/,
  /^(visual\.)?transformer\.resblocks\.\d+\.attn_mask$/,
];

/** The keys of one pre-LN residual block: `ln_1`, attention, `ln_2`, MLP. */
function blockShapes(s: Map<string, number[]>, prefix: string, width: number, mlp: number) {
  const vec = (name: string, n: number) => s.set(name, [n]);
  vec(`${prefix}ln_1.weight`, width);
  vec(`${prefix}ln_1.bias`, width);
  s.set(`${prefix}attn.in_proj_weight`, [3 * width, width]);
  vec(`${prefix}attn.in_proj_bias`, 3 * width);
  s.set(`${prefix}attn.out_proj.weight`, [width, width]);
  vec(`${prefix}attn.out_proj.bias`, width);
  vec(`${prefix}ln_2.weight`, width);
  vec(`${prefix}ln_2.bias`, width);
  s.set(`${prefix}mlp.c_fc.weight`, [mlp, width]);
  vec(`${prefix}mlp.c_fc.bias`, mlp);
  s.set(`${prefix}mlp.c_proj.weight`, [width, mlp]);
  vec(`${prefix}mlp.c_proj.bias`, width);
}

/**
 * Every key the CLIP towers read, with its expected shape.
 * @example
 * ```ts
 * import { CLIP_VIT_B_16_CONFIG } from "./clip_config.ts";
 * clipShapes(CLIP_VIT_B_16_CONFIG).get("visual.positional_embedding"); // [197, 768]
 * ```
 */
export function clipShapes(config: ClipConfig): Map<string, number[]> {
  checkClipConfig(config);
  const v = config.vision, t = config.text, E = config.embedDim;
  const s = new Map<string, number[]>();
  s.set("visual.class_embedding", [v.width]);
  s.set("visual.positional_embedding", [(v.imageSize / v.patchSize) ** 2 + 1, v.width]);
  s.set("visual.proj", [v.width, E]);
  s.set("visual.conv1.weight", [v.width, 3, v.patchSize, v.patchSize]);
  s.set("visual.ln_pre.weight", [v.width]);
  s.set("visual.ln_pre.bias", [v.width]);
  for (let i = 0; i < v.layers; i++) {
    blockShapes(s, `visual.transformer.resblocks.${i}.`, v.width, v.mlpDim);
  }
  s.set("visual.ln_post.weight", [v.width]);
  s.set("visual.ln_post.bias", [v.width]);
  s.set("token_embedding.weight", [t.vocabSize, t.width]);
  s.set("positional_embedding", [t.contextLength, t.width]);
  for (let i = 0; i < t.layers; i++) {
    blockShapes(s, `transformer.resblocks.${i}.`, t.width, t.mlpDim);
  }
  s.set("ln_final.weight", [t.width]);
  s.set("ln_final.bias", [t.width]);
  s.set("text_projection", [t.width, E]);
  s.set("logit_scale", []);
  return s;
}

/**
 * Checks a CLIP state dict against the config: every expected key present, floating-point,
 * with the expected shape, and no unknown keys. Throws one error listing every problem.
 * @param source the checkpoint's name, for the message
 * @example
 * ```ts
 * import { CLIP_TINY_CONFIG } from "./clip_config.ts";
 * checkClipStateDict(randomClipStateDict(CLIP_TINY_CONFIG, 0), CLIP_TINY_CONFIG, "random");
 * ```
 */
export function checkClipStateDict(sd: StateDict, config: ClipConfig, source: string): void {
  checkStateDict(
    sd,
    clipShapes(config),
    CLIP_UNUSED_KEYS,
    source,
    `CLIP vision ${config.vision.layers}x${config.vision.width}, ` +
      `text ${config.text.layers}x${config.text.width} vocab ${config.text.vocabSize}, ` +
      `embed ${config.embedDim}`,
  );
}

/**
 * A seeded random CLIP state dict (std-0.02 normal weights, LayerNorm scales near 1,
 * `logit_scale` = ln(1/0.07)): a stand-in for tests and benchmarks.
 * @example
 * ```ts
 * import { CLIP_TINY_CONFIG } from "./clip_config.ts";
 * const sd = randomClipStateDict(CLIP_TINY_CONFIG, 42);
 * sd.get("text_projection")?.shape; // [32, 16]
 * ```
 */
export function randomClipStateDict(config: ClipConfig, seed: number): StateDict {
  return randomStateDict(clipShapes(config), seed, /(^|\.)ln_\w+\.weight$/);
}
