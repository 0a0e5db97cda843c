/**
 * CLIP tokenizer files: reading the forms users have, writing the one a weights folder keeps.
 *
 * Read ({@link readClipTokenizer}):
 * - OpenAI's / open_clip's `bpe_simple_vocab_16e6.txt.gz` (or the same text uncompressed, or a
 *   Hugging Face `merges.txt`): a `#version` line, then one merge per line; the first 48,894
 *   merges are used (as `SimpleTokenizer`) and the vocabulary is derived from them;
 * - a Hugging Face `tokenizer.json` with a BPE model whose words end in `</w>` (CLIP's);
 * - a Hugging Face `vocab.json`, with `merges.txt` beside it.
 *
 * Written ({@link clipTokenizerJson}): a Hugging Face `tokenizer.json` in the form HF publishes
 * for openai/clip-vit-base-patch16, so the folder's tokenizer also loads in HF's libraries.
 * (Their normalizer does not run ftfy or HTML unescaping; {@link ClipTokenizer} does, as
 * open_clip.)
 *
 * @module
 */

import { gunzipSync } from "fflate";
import { basename, dirname, join } from "node:path";
import { ClipTokenizer, clipVocabulary, EOT, SOT } from "./clip_tokenizer.ts";

/** Merges OpenAI CLIP uses: 49,152 - 256 - 2 (its vocabulary is 49,408 tokens). */
export const CLIP_MERGES = 48894;

/** A CLIP BPE vocabulary and its merges in rank order. */
export interface ClipBpe {
  /** Token → id. */
  vocab: Map<string, number>;
  /** Merges, rank = index. */
  merges: [string, string][];
}

/**
 * Merges of a `bpe_simple_vocab_16e6.txt` / `merges.txt` text: the first line must be the
 * `#version` header; empty lines are skipped; at most `maxMerges` are kept.
 * @example
 * ```ts
 * parseMerges("#version: 0.2\ni n\nt h\n", "merges.txt"); // [["i", "n"], ["t", "h"]]
 * ```
 */
export function parseMerges(
  text: string,
  source: string,
  maxMerges = CLIP_MERGES,
): [string, string][] {
  const lines = text.split("\n");
  if (!lines[0].includes("#version")) {
    throw new Error(
      `${source}: the first line is ${JSON.stringify(lines[0].slice(0, 40))}; ` +
        "expected a BPE merges header such as '#version: 0.2'",
    );
  }
  const merges: [string, string][] = [];
  for (let i = 1; i < lines.length && merges.length < maxMerges; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line === "") continue;
    const pair = line.split(" ");
    if (pair.length !== 2 || !pair[0] || !pair[1]) {
      throw new Error(`${source}: line ${i + 1} is ${JSON.stringify(line)}, not "<a> <b>"`);
    }
    merges.push([pair[0], pair[1]]);
  }
  return merges;
}

function mergesOf(list: unknown, source: string): [string, string][] {
  if (!Array.isArray(list)) throw new Error(`${source}: model.merges is not a list`);
  return list.map((m, i) => {
    const pair = typeof m === "string" ? m.split(" ") : m;
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((p) => typeof p !== "string")) {
      throw new Error(`${source}: merge ${i} is ${JSON.stringify(m)}, not "a b" or ["a", "b"]`);
    }
    return [pair[0], pair[1]] as [string, string];
  });
}

function vocabOf(obj: unknown, source: string): Map<string, number> {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new Error(`${source}: the vocabulary is not an object of token → id`);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(obj)) {
    if (!Number.isInteger(id) || id < 0) throw new Error(`${source}: token ${token} has id ${id}`);
    vocab.set(token, id);
  }
  return vocab;
}

/** The BPE model of a Hugging Face `tokenizer.json`, checked to be CLIP's kind. */
function fromTokenizerJson(doc: Record<string, unknown>, source: string): ClipBpe {
  const model = doc.model as Record<string, unknown> | undefined;
  if (model?.type !== "BPE" || model.end_of_word_suffix !== "</w>") {
    throw new Error(
      `${source}: not a CLIP tokenizer.json: model.type ${model?.type}, ` +
        `end_of_word_suffix ${model?.end_of_word_suffix}; expected BPE with "</w>"`,
    );
  }
  const vocab = vocabOf(model.vocab, source);
  for (const t of (doc.added_tokens ?? []) as { id: number; content: string }[]) {
    vocab.set(t.content, t.id);
  }
  return { vocab, merges: mergesOf(model.merges, source) };
}

async function readText(path: string): Promise<string> {
  try {
    const bytes = await Deno.readFile(path);
    return new TextDecoder("utf-8", { fatal: true }).decode(
      path.endsWith(".gz") ? gunzipSync(bytes) : bytes,
    );
  } catch (e) {
    throw new Error(`${path}: cannot read the CLIP tokenizer file: ${(e as Error).message}`);
  }
}

/**
 * Reads CLIP's BPE from any of the forms above, chosen by the file's name (`*.json` other than
 * `vocab.json` is a `tokenizer.json`), and checks it makes a complete tokenizer.
 * @example
 * ```ts
 * const bpe = await readClipTokenizer("tests/fixtures/clip_tiny/bpe_tiny.txt");
 * bpe.vocab.size; // 814: the tiny fixture vocabulary (OpenAI CLIP's has 49,408)
 * ```
 */
export async function readClipTokenizer(path: string): Promise<ClipBpe> {
  let bpe: ClipBpe;
  if (basename(path) === "vocab.json") {
    const merges = join(dirname(path), "merges.txt");
    bpe = {
      vocab: vocabOf(JSON.parse(await readText(path)), path),
      merges: parseMerges(await readText(merges), merges, Infinity),
    };
  } else if (path.endsWith(".json")) {
    bpe = fromTokenizerJson(JSON.parse(await readText(path)), path);
  } else {
    const merges = parseMerges(await readText(path), path);
    bpe = { vocab: new Map(clipVocabulary(merges).map((t, i) => [t, i])), merges };
  }
  const ids = new Set(bpe.vocab.values());
  if (ids.size !== bpe.vocab.size || [...ids].some((id) => id >= ids.size)) {
    throw new Error(`${path}: vocabulary ids are not 0..${bpe.vocab.size - 1}, each once`);
  }
  new ClipTokenizer(bpe.vocab, bpe.merges, path); // throws naming any missing token
  return bpe;
}

/**
 * A Hugging Face `tokenizer.json` for a CLIP BPE, in the form published for
 * openai/clip-vit-base-patch16 (NFC, whitespace and lower-case normalizer; CLIP's split
 * pattern; byte-level BPE with `</w>`; start and end tokens added around each text).
 * @example
 * ```ts
 * import { clipVocabulary } from "./clip_tokenizer.ts";
 * const merges: [string, string][] = [["i", "n"]];
 * const vocab = new Map(clipVocabulary(merges).map((t, i) => [t, i]));
 * const json = clipTokenizerJson({ vocab, merges });
 * json.model.merges; // ["i n"]
 * ```
 */
export function clipTokenizerJson(bpe: ClipBpe) {
  const sot = bpe.vocab.get(SOT)!, eot = bpe.vocab.get(EOT)!;
  const added = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  const pattern =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
  const byId = [...bpe.vocab].sort((a, b) => a[1] - b[1]);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [added(sot, SOT), added(eot, EOT)],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "NFC" },
        { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
        { type: "Lowercase" },
      ],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: pattern }, behavior: "Removed", invert: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: "RobertaProcessing",
      sep: [EOT, eot],
      cls: [SOT, sot],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: EOT,
      continuing_subword_prefix: "",
      end_of_word_suffix: "</w>",
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(byId),
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
