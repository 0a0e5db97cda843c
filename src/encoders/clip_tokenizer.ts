/**
 * OpenAI CLIP's byte-level BPE tokenizer, as open_clip's `SimpleTokenizer` applies it for
 * `ViT-B-16` (OpenAI's `clip/simple_tokenizer.py` with `clean="lower"`):
 *
 * 1. Clean: `ftfy.fix_text`, HTML unescaping twice, whitespace runs to one space, lower-case
 *    ({@link cleanLower}; ftfy's mojibake repair is not reproduced).
 * 2. Split with CLIP's pattern: the literal `<|startoftext|>` / `<|endoftext|>`, the
 *    contractions 's 't 're 've 'm 'll 'd, runs of letters, single digits, runs of other
 *    non-space characters. (Python compiles it with IGNORECASE; after lower-casing that changes
 *    nothing, so it is not used here: JavaScript's case-insensitive Unicode classes differ.)
 * 3. Each piece's UTF-8 bytes become printable characters (GPT-2's byte encoder), the last one
 *    marked with `</w>`, and BPE merges them, lowest merge rank first.
 * 4. `<|startoftext|> ids <|endoftext|>`, cut to the context length with the last id replaced
 *    by `<|endoftext|>`, padded with 0 (CLIP has no pad token: the text tower reads the
 *    features at the end token, the row's largest id). The mask is 1 up to the end token.
 *
 * The vocabulary is the 256 byte characters (by code point), the same with `</w>`, one token
 * per merge in rank order, then the two special tokens ({@link clipVocabulary}); OpenAI CLIP keeps the first
 * 48,894 merges of `bpe_simple_vocab_16e6.txt.gz`, so 49,408 tokens.
 *
 * @module
 */

import { cleanLower } from "./clip_text_clean.ts";
import { type BatchEncoding, type Encoding, packRows } from "./tokenizer.ts";

/** The start-of-text token. */
export const SOT = "<|startoftext|>";
/** The end-of-text token. */
export const EOT = "<|endoftext|>";
/** Words whose ids are remembered; the cache is cleared when it reaches this size. */
const CACHE_LIMIT = 100_000;
const PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

/**
 * GPT-2's byte encoder: byte value → a printable character (printable Latin-1 bytes map to
 * themselves, the others to U+0100 onwards).
 * @example
 * ```ts
 * const enc = bytesToUnicode();
 * enc[0x41]; // "A"
 * enc[0x20]; // "Ġ" (U+0120)
 * ```
 */
export function bytesToUnicode(): string[] {
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    out[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return out;
}

/**
 * CLIP's vocabulary for a merge list, id = index: the byte characters by code point ("!" is
 * 0, "Ā" for byte 0 is 188), the same with `</w>`, one token per merge, `<|startoftext|>`,
 * `<|endoftext|>`.
 * @example
 * ```ts
 * const v = clipVocabulary([["i", "n"], ["t", "h"]]);
 * v.length; // 516
 * v[0]; // "!"
 * v.slice(512); // ["in", "th", "<|startoftext|>", "<|endoftext|>"]
 * ```
 */
export function clipVocabulary(merges: readonly (readonly [string, string])[]): string[] {
  // Python lists the byte encoder's characters in its dict's insertion order: the printable
  // bytes first, then the remapped ones, i.e. by code point.
  const chars = bytesToUnicode().sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  return [...chars, ...chars.map((c) => c + "</w>"), ...merges.map(([a, b]) => a + b), SOT, EOT];
}

/**
 * CLIP's byte-level BPE tokenizer over a vocabulary and its merges.
 * @example
 * ```ts
 * const merges: [string, string][] = [["n", "o</w>"], ["h", "e"]];
 * const tok = new ClipTokenizer(clipVocabulary(merges), merges);
 * const { ids, mask } = tok.encode("No!", 6);
 * // ids [514, 512, 256, 515, 0, 0]: <|startoftext|> "no</w>" "!</w>" <|endoftext|>
 * // mask [1, 1, 1, 1, 0, 0]
 * ```
 */
export class ClipTokenizer {
  /** Token → id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** Id of `<|startoftext|>`. */
  readonly sotId: number;
  /** Id of `<|endoftext|>`. */
  readonly eotId: number;
  /** Id written after the end token (0, as open_clip). */
  readonly padId = 0;
  /** Ids that carry no text: the start and end tokens (0 is "!", a real token). */
  readonly specialIds: ReadonlySet<number>;
  readonly #ranks = new Map<string, number>();
  readonly #bytes = bytesToUnicode();
  readonly #cache = new Map<string, readonly number[]>();

  /**
   * @param tokens the vocabulary, id = index, or a token → id map (a `tokenizer.json`'s)
   * @param merges the merges in rank order
   * @param source where they came from, for error messages
   */
  constructor(
    tokens: readonly string[] | ReadonlyMap<string, number>,
    merges: readonly (readonly [string, string])[],
    source = "CLIP vocabulary",
  ) {
    const vocab = Array.isArray(tokens)
      ? new Map(tokens.map((t, i) => [t, i]))
      : new Map(tokens as ReadonlyMap<string, number>);
    const need = (t: string, why: string) => {
      const id = vocab.get(t);
      if (id === undefined) throw new Error(`${source}: no token ${JSON.stringify(t)} (${why})`);
      return id;
    };
    for (const c of this.#bytes) {
      need(c, "a byte character");
      need(c + "</w>", "a byte character ending a word");
    }
    merges.forEach(([a, b], rank) => {
      need(a + b, `the result of merge ${rank}`);
      this.#ranks.set(`${a} ${b}`, rank);
    });
    this.sotId = need(SOT, "the start token");
    this.eotId = need(EOT, "the end token");
    this.specialIds = new Set([this.sotId, this.eotId]);
    this.vocab = vocab;
  }

  /**
   * Ids of `text`'s BPE tokens (steps 1-3), without the start and end tokens.
   * @example
   * ```ts
   * const merges: [string, string][] = [["n", "o</w>"]];
   * const tok = new ClipTokenizer(clipVocabulary(merges), merges);
   * tok.tokenize("NO no"); // [512, 512]
   * ```
   */
  tokenize(text: string): number[] {
    const out: number[] = [];
    for (const [piece] of cleanLower(text).matchAll(PATTERN)) {
      if (piece === SOT) out.push(this.sotId);
      else if (piece === EOT) out.push(this.eotId);
      else for (const id of this.#word(piece)) out.push(id);
    }
    return out;
  }

  /** The ids of one piece, cached. */
  #word(piece: string): readonly number[] {
    let ids = this.#cache.get(piece);
    if (ids) return ids;
    let encoded = "";
    for (const b of new TextEncoder().encode(piece)) encoded += this.#bytes[b];
    ids = this.#bpe(encoded).map((t) => this.vocab.get(t)!);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(piece, ids);
    return ids;
  }

  /** BPE of one byte-encoded piece: merge the lowest-ranked adjacent pair until none applies. */
  #bpe(encoded: string): string[] {
    const word = [...encoded];
    word[word.length - 1] += "</w>";
    while (word.length > 1) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.#ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
      }
      if (best < 0) break;
      const [first, second] = [word[best], word[best + 1]];
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === first && word[i + 1] === second) word.splice(i, 2, first + second);
      }
    }
    return word;
  }

  /**
   * `<|startoftext|> ids <|endoftext|>` padded with 0 or cut to `contextLength` (CLIP: 77),
   * keeping the end token last.
   * @example
   * ```ts
   * const merges: [string, string][] = [["n", "o</w>"]];
   * const tok = new ClipTokenizer(clipVocabulary(merges), merges);
   * tok.encode("no no no", 4).ids; // [513, 512, 512, 514]: cut, the end token kept
   * ```
   */
  encode(text: string, contextLength = 77): Encoding {
    const batch = this.encodeBatch([text], contextLength);
    return { ids: batch.ids, mask: batch.mask };
  }

  /**
   * {@link encode} of each text into one row-major `[texts.length, contextLength]` pair.
   * @example
   * ```ts
   * const merges: [string, string][] = [["n", "o</w>"]];
   * const tok = new ClipTokenizer(clipVocabulary(merges), merges);
   * const b = tok.encodeBatch(["no", ""], 4);
   * b.ids; // [513, 512, 514, 0, 513, 514, 0, 0]
   * b.mask; // [1, 1, 1, 0, 1, 1, 0, 0]
   * ```
   */
  encodeBatch(texts: readonly string[], contextLength = 77): BatchEncoding {
    const special = {
      start: this.sotId,
      end: this.eotId,
      pad: this.padId,
      names: "start and end tokens",
    };
    return packRows(texts, contextLength, (t) => this.tokenize(t), special);
  }
}
