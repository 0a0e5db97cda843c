/**
 * `deno task weights import <open_clip_pytorch_model.bin | .safetensors> --vocab <vocab.txt>
 * [--out weights/] [--config <config.json>]`: turns BiomedCLIP's official open_clip checkpoint
 * into the two ONNX towers the encoders run. The checkpoint is read without executing pickle;
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
import { importWeights } from "../encoders/import_weights.ts";

const USAGE = `usage: deno task weights import <open_clip_pytorch_model.bin | model.safetensors> \\
         --vocab <vocab.txt> [--out weights/] [--config <config.json>]
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
      out: { type: "string", default: "weights" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (positionals[0] === "demo" && !values.help) {
    await buildDemoWeights(
      values.out === "weights" ? "weights/demo" : values.out,
      (l) => console.log(l),
    );
    Deno.exit(0);
  }
  if (values.help || positionals[0] !== "import" || positionals.length !== 2 || !values.vocab) {
    console.error(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  try {
    const config = values.config
      ? JSON.parse(await Deno.readTextFile(values.config)) as BiomedClipConfig
      : undefined;
    await importWeights({
      checkpoint: positionals[1],
      vocab: values.vocab,
      out: values.out,
      config,
      log: (l) => console.log(l),
    });
  } catch (e) {
    console.error(`weights import failed: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
