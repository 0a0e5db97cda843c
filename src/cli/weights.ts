/**
 * `deno task weights import <open_clip_pytorch_model.bin | .safetensors> --vocab <vocab.txt>
 * [--out weights/] [--config <config.json>]`: turns BiomedCLIP's official open_clip checkpoint
 * into the two ONNX towers the encoders run. With `--tokenizer <bpe_simple_vocab_16e6.txt.gz |
 * tokenizer.json>` instead of `--vocab`, the checkpoint is OpenAI CLIP ViT-B/16's (the baseline;
 * `--out` defaults to `weights/clip`). The checkpoint is read without executing pickle;
 * every tensor's shape is checked against the config (BiomedCLIP's by default); the output
 * folder gets `biomedclip-image.onnx`, `biomedclip-text.onnx`, `vocab.txt` and `manifest.json`
 * (SHA-256 of each file, the config, `logit_scale`).
 *
 * The checkpoint is `open_clip_pytorch_model.bin` from the Hugging Face repository
 * microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224; `vocab.txt` from
 * microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { BiomedClipConfig } from "../encoders/biomedclip_config.ts";
import { buildDemoWeights } from "../encoders/demo_weights.ts";
import type { ClipConfig } from "../encoders/clip_config.ts";
import { importClipWeights } from "../encoders/clip_import.ts";
import { importWeights } from "../encoders/import_weights.ts";

const USAGE = `usage: deno task weights import <open_clip_pytorch_model.bin | model.safetensors> \\
         --vocab <vocab.txt> [--out weights/] [--config <config.json>]
       deno task weights import <ViT-B-16.pt | open_clip_pytorch_model.bin> \\
         --tokenizer <bpe_simple_vocab_16e6.txt.gz | tokenizer.json> [--out weights/clip]
         (the OpenAI CLIP ViT-B/16 baseline)
       deno task weights demo [--out weights/demo]   (rebuild the SYNTHETIC demo encoders)

Builds weights/biomedclip-image.onnx and weights/biomedclip-text.onnx from BiomedCLIP's
open_clip checkpoint (read without executing pickle), copies the vocabulary and writes
weights/manifest.json. Get the checkpoint, open_clip_pytorch_model.bin, from Hugging Face:
microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224; vocab.txt from
microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract. --config takes a JSON BiomedClipConfig
(default: BiomedCLIP's ViT-B/16 + BiomedBERT sizes).`;

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      vocab: { type: "string" },
      tokenizer: { type: "string" },
      out: { type: "string" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (positionals[0] === "demo" && !values.help) {
    await buildDemoWeights(
      values.out ?? "weights/demo",
      (l) => console.log(l),
    );
    Deno.exit(0);
  }
  const oneSource = !values.vocab !== !values.tokenizer;
  if (values.help || positionals[0] !== "import" || positionals.length !== 2 || !oneSource) {
    console.error(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  try {
    const config = values.config ? JSON.parse(await Deno.readTextFile(values.config)) : undefined;
    const log = (l: string) => console.log(l);
    if (values.tokenizer) {
      await importClipWeights({
        checkpoint: positionals[1],
        tokenizer: values.tokenizer,
        out: values.out ?? "weights/clip",
        config: config as ClipConfig | undefined,
        log,
      });
    } else {
      await importWeights({
        checkpoint: positionals[1],
        vocab: values.vocab!,
        out: values.out ?? "weights",
        config: config as BiomedClipConfig | undefined,
        log,
      });
    }
  } catch (e) {
    console.error(`weights import failed: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
