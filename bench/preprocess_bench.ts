/**
 * Encoder input preparation on the CPU: images/s of preprocessImage (decode → resize → crop →
 * normalize, 224) on the NIH PNGs (64×64, upsampled) and on a generated 2048×2500 PNG
 * (downsampled, 37 taps per output pixel); reports/s of the tokenizer on the 3,826 IU X-ray
 * reports at context 256, with Hugging Face's JS tokenizer (`@huggingface/tokenizers`, what
 * `@huggingface/transformers` 4.3.1 runs) as the peer. Needs ../shared/data (skips without).
 * PIL + torchvision numbers for the same images: `bench/peers/preprocess_peer.py`.
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { decode as decodePng, encode as encodePng } from "fast-png";
import { preprocessImage } from "../src/encoders/preprocess_image.ts";
import { parseVocab, WordPieceTokenizer } from "../src/encoders/tokenizer.ts";
import { bertTokenizerFiles } from "../tests/util/hf_bert.ts";
import { readIuReports } from "../tests/util/iu_reports.ts";
import { sharedDataPath } from "../tests/util/shared_data.ts";
import { benchThroughput } from "./util/throughput.ts";

const NIH = sharedDataPath("nih-cxr-1000/train/0_normal", "NIH image benches");
const VOCAB = sharedDataPath("tokenizer/bert-base-uncased.vocab.txt", "tokenizer benches");
const CSV = sharedDataPath("iu-xray-reports/dataset.csv", "tokenizer benches");

// --- images ---------------------------------------------------------------------------------
const nih: Uint8Array[] = [];
if (NIH) {
  const names = [...Deno.readDirSync(NIH)].map((e) => e.name).sort().slice(0, 64);
  for (const name of names) nih.push(Deno.readFileSync(`${NIH}/${name}`));
}
const nihGroup = `preprocess NIH PNG 64x64 -> 224 (${nih.length} images per call)`;
benchThroughput({
  name: "fast-png decode only",
  group: nihGroup,
  work: { items: nih.length, unit: "images" },
  fn: () => nih.forEach((b) => decodePng(b)),
  ignore: !NIH && "no shared data",
});
benchThroughput({
  name: "preprocessImage",
  group: nihGroup,
  work: { items: nih.length, unit: "images" },
  fn: () => nih.forEach((b) => preprocessImage(b)),
  ignore: !NIH && "no shared data",
});

/** A smooth RGB test card with hard edges (a stand-in for a full-size radiograph). */
function testCard(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0, o = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const edge = ((x >> 6) + (y >> 6)) % 2 ? 40 : 0;
      data[o++] = Math.min(255, ((x * 255) / width) + edge);
      data[o++] = (y * 255) / height;
      data[o++] = 128 + 100 * Math.sin(x / 37) * Math.cos(y / 53);
    }
  }
  return encodePng({ width, height, data, channels: 3, depth: 8 });
}
const large = testCard(2048, 2500);
const largeGroup = `preprocess generated PNG 2048x2500 -> 224 (${
  (large.length / 1e6).toFixed(1)
} MB)`;
benchThroughput({
  name: "fast-png decode only",
  group: largeGroup,
  work: { items: 1, unit: "images" },
  fn: () => void decodePng(large),
});
benchThroughput({
  name: "preprocessImage",
  group: largeGroup,
  work: { items: 1, unit: "images" },
  fn: () => void preprocessImage(large),
});

// --- tokenizer -----------------------------------------------------------------------------
const CONTEXT = 256;
const texts = CSV ? (await readIuReports(CSV)).map((r) => r.text) : [];
const lines = VOCAB ? parseVocab(Deno.readTextFileSync(VOCAB)) : [];
const ours = VOCAB ? new WordPieceTokenizer(lines, VOCAB) : null;
const files = VOCAB ? bertTokenizerFiles(lines) : null;
const hf = files ? new Tokenizer(files.tokenizer, files.config) : null;
const tokGroup = `tokenize ${texts.length} IU X-ray reports, context ${CONTEXT}`;
const noText = (!VOCAB || !CSV) && "no shared data";
benchThroughput({
  name: "@huggingface/tokenizers encode + pad/truncate",
  group: tokGroup,
  baseline: true,
  work: { items: texts.length, unit: "reports" },
  fn: () => {
    const ids = new Int32Array(texts.length * CONTEXT),
      mask = new Int32Array(texts.length * CONTEXT);
    texts.forEach((t, b) => {
      const e = hf!.encode(t).ids;
      const n = Math.min(e.length, CONTEXT);
      ids.set(e.length > CONTEXT ? [...e.slice(0, CONTEXT - 1), e.at(-1)!] : e, b * CONTEXT);
      mask.fill(1, b * CONTEXT, b * CONTEXT + n);
    });
  },
  ignore: noText,
});
benchThroughput({
  name: "WordPieceTokenizer.encodeBatch (warm word cache)",
  group: tokGroup,
  work: { items: texts.length, unit: "reports" },
  fn: () => void ours!.encodeBatch(texts, CONTEXT),
  ignore: noText,
});
benchThroughput({
  name: "WordPieceTokenizer new + encodeBatch (cold)",
  group: tokGroup,
  work: { items: texts.length, unit: "reports" },
  fn: () => void new WordPieceTokenizer(lines, VOCAB!).encodeBatch(texts, CONTEXT),
  ignore: noText,
});
