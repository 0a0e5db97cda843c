/**
 * BERT's uncased WordPiece tokenizer (BiomedBERT / PubMedBERT and bert-base-uncased use it), as
 * Hugging Face's `BertTokenizer` applies it for open_clip's `HFTokenizer`:
 *
 * 1. The special tokens present in the vocabulary ([PAD] [UNK] [CLS] [SEP] [MASK]) written
 *    literally in the text are kept as those tokens (case-sensitive, like HF's added tokens).
 * 2. Clean: drop NUL, U+FFFD and control/format/private/unassigned characters (Unicode
 *    category C, except tab, newline, carriage return); whitespace becomes a space.
 * 3. Put spaces around CJK ideographs (BERT's ranges, by code point).
 * 4. Lower-case, then NFD and drop non-spacing marks (accents).
 * 5. Split on whitespace; every punctuation character (Unicode P, plus ASCII symbols
 *    !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) is a word of its own.
 * 6. WordPiece per word: greedy longest match first, continuations prefixed "##"; a word that
 *    cannot be covered, or longer than 100 characters, becomes [UNK].
 * 7. `[CLS] pieces [SEP]`, pieces truncated to `contextLength - 2` (HF's truncation keeps
 *    [SEP]), padded with [PAD]; the attention mask is 1 on real tokens.
 *
 * Written here rather than taken from `@huggingface/tokenizers` (the tokenizer inside
 * `@huggingface/transformers`) because that library is this file's test oracle: using it would
 * make the comparison circular. The two agree on every IU X-ray report and on the edge cases in
 * tests/tokenizer_test.ts, except where the JS port departs from BERT's Python/Rust reference:
 * it misses CJK ideographs outside the BMP (it scans UTF-16 units) and keeps unassigned (Cn)
 * characters; and `@huggingface/transformers` truncation cuts the tail, dropping [SEP].
 *
 * @module
 */

/** Token ids and attention mask of one text, each `contextLength` long. */
export interface Encoding {
  /** Token ids: [CLS] … [SEP] then [PAD]. */
  ids: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  mask: Int32Array;
}

/** Row-major `[texts, contextLength]` ids and mask of a batch. */
export interface BatchEncoding extends Encoding {
  /** Number of texts. */
  batch: number;
  /** Tokens per text. */
  contextLength: number;
}

const SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const CONTROL = /[\0\uFFFD]|(?![\t\n\r])\p{C}/gu;
const WHITESPACE = /\s/gu;
const CJK =
  /[\u{4E00}-\u{9FFF}\u{3400}-\u{4DBF}\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{F900}-\u{FAFF}\u{2F800}-\u{2FA1F}]/gu;
const MARK = /\p{Mn}/gu;
const PUNCT = "\\p{P}\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E";
const WORD = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, "gu");
/** Words whose pieces are remembered; the cache is cleared when it reaches this size. */
const CACHE_LIMIT = 100_000;

/**
 * The tokens of a `vocab.txt`: one per line (CR LF accepted), id = line number; a final newline
 * ends the last token.
 * @example
 * ```ts
 * parseVocab("[PAD]\n[UNK]\n"); // ["[PAD]", "[UNK]"]
 * ```
 */
export function parseVocab(text: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * Uncased BERT WordPiece tokenizer over a `vocab.txt` vocabulary.
 * @example
 * ```ts
 * const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "no", "eff", "##usion", "."]; // id = index
 * const tok = new WordPieceTokenizer(vocab);
 * const { ids, mask } = tok.encode("No effusion.", 8);
 * // ids [2, 4, 5, 6, 7, 3, 0, 0] ([CLS] no eff ##usion . [SEP] [PAD] [PAD])
 * // mask [1, 1, 1, 1, 1, 1, 0, 0]
 * ```
 */
export class WordPieceTokenizer {
  /** Token → id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** Id of [PAD]. */
  readonly padId: number;
  /** Id of [UNK]. */
  readonly unkId: number;
  /** Id of [CLS]. */
  readonly clsId: number;
  /** Id of [SEP]. */
  readonly sepId: number;
  /** Ids that carry no text: [CLS], [SEP], [PAD]. */
  readonly specialIds: ReadonlySet<number>;
  readonly #maxCharsPerWord: number;
  readonly #special: RegExp;
  readonly #cache = new Map<string, readonly number[]>();

  /**
   * @param tokens the vocabulary, id = index (later duplicates win, as in HF's `load_vocab`)
   * @param source where it came from, for error messages
   * @param maxCharsPerWord longer words become [UNK] (BERT: 100)
   */
  constructor(tokens: readonly string[], source = "vocabulary", maxCharsPerWord = 100) {
    const vocab = new Map<string, number>();
    tokens.forEach((t, i) => vocab.set(t, i));
    this.vocab = vocab;
    const id = (t: string) => {
      const v = vocab.get(t);
      if (v === undefined) throw new Error(`${source}: no ${t} token in ${tokens.length} tokens`);
      return v;
    };
    this.padId = id("[PAD]");
    this.unkId = id("[UNK]");
    this.clsId = id("[CLS]");
    this.sepId = id("[SEP]");
    this.specialIds = new Set([this.clsId, this.sepId, this.padId]);
    this.#maxCharsPerWord = maxCharsPerWord;
    const present = SPECIAL.filter((t) => vocab.has(t)).map((t) => t.replace(/[[\]]/g, "\\$&"));
    this.#special = new RegExp(`(${present.join("|")})`);
  }

  /**
   * Reads a `vocab.txt` (one token per line, id = line number).
   * @example
   * ```ts
   * const tok = await WordPieceTokenizer.fromVocabFile("weights/demo/vocab.txt");
   * tok.vocab.size; // 230: the demo encoders' vocabulary
   * ```
   */
  static async fromVocabFile(path: string): Promise<WordPieceTokenizer> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new Error(`${path}: cannot read vocabulary: ${e instanceof Error ? e.message : e}`);
    }
    return new WordPieceTokenizer(parseVocab(text), path);
  }

  /**
   * Word pieces of `text` (steps 1-6), as ids, without [CLS]/[SEP].
   * @example
   * ```ts
   * const tok = await WordPieceTokenizer.fromVocabFile("weights/demo/vocab.txt");
   * tok.tokenize("Héllo, XXXX!");
   * // ids of h ##e ##l ##l ##o , x ##x ##x ##x ! (this vocabulary has no "hello")
   * ```
   */
  tokenize(text: string): number[] {
    const out: number[] = [];
    const parts = text.split(this.#special); // odd indices: literal special tokens
    for (let p = 0; p < parts.length; p++) {
      if (p % 2 === 1) {
        out.push(this.vocab.get(parts[p])!);
        continue;
      }
      const normalized = parts[p]
        .replace(CONTROL, "")
        .replace(WHITESPACE, " ")
        .replace(CJK, " $& ")
        .toLowerCase()
        .normalize("NFD")
        .replace(MARK, "");
      for (const word of normalized.match(WORD) ?? []) {
        for (const id of this.#pieces(word)) out.push(id);
      }
    }
    return out;
  }

  /** WordPiece of one word, cached: [UNK] if too long or not covered by the vocabulary. */
  #pieces(word: string): readonly number[] {
    let ids = this.#cache.get(word);
    if (ids) return ids;
    const chars = [...word];
    ids = (chars.length <= this.#maxCharsPerWord && this.#greedy(chars)) || [this.unkId];
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(word, ids);
    return ids;
  }

  /** Greedy longest-match-first cover of `chars`, or null where no piece matches. */
  #greedy(chars: string[]): number[] | null {
    const ids: number[] = [];
    for (let start = 0; start < chars.length;) {
      let end = chars.length, id: number | undefined;
      while (end > start) {
        id = this.vocab.get((start > 0 ? "##" : "") + chars.slice(start, end).join(""));
        if (id !== undefined) break;
        end--;
      }
      if (id === undefined) return null;
      ids.push(id);
      start = end;
    }
    return ids;
  }

  /**
   * `[CLS] pieces [SEP]` padded or truncated to `contextLength` (BiomedCLIP: 256).
   * @example
   * ```ts
   * const tok = await WordPieceTokenizer.fromVocabFile("weights/demo/vocab.txt");
   * const { ids, mask } = tok.encode("Heart size normal.", 8);
   * // ids [2, 161, 216, 191, 41, 3, 0, 0], mask [1, 1, 1, 1, 1, 1, 0, 0]
   * ```
   */
  encode(text: string, contextLength = 256): Encoding {
    const batch = this.encodeBatch([text], contextLength);
    return { ids: batch.ids, mask: batch.mask };
  }

  /**
   * {@link encode} of each text into one row-major `[texts.length, contextLength]` pair.
   * @example
   * ```ts
   * const tok = await WordPieceTokenizer.fromVocabFile("weights/demo/vocab.txt");
   * const b = tok.encodeBatch(["No effusion.", "Clear lungs."], 8);
   * b.ids.subarray(8, 16); // second text: [2, 143, 175, 41, 3, 0, 0, 0]
   * ```
   */
  encodeBatch(texts: readonly string[], contextLength = 256): BatchEncoding {
    const special = {
      start: this.clsId,
      end: this.sepId,
      pad: this.padId,
      names: "[CLS] and [SEP]",
    };
    return packRows(texts, contextLength, (t) => this.tokenize(t), special);
  }
}

/**
 * Rows of `start tokens end`, the tokens cut to `contextLength - 2` (so `end` is always kept),
 * then `pad`; the mask is 1 on start, tokens and end. Both tokenizers' `encodeBatch`.
 * @param special the start, end and pad ids, and how to name start and end in errors
 * @example
 * ```ts
 * const rows = packRows(["ab", "abc"], 4, (t) => [...t].map((c) => c.charCodeAt(0)), {
 *   start: 1, end: 2, pad: 0, names: "start and end",
 * });
 * rows.ids; // [1, 97, 98, 2, 1, 97, 98, 2]
 * ```
 */
export function packRows(
  texts: readonly string[],
  contextLength: number,
  tokenize: (text: string) => number[],
  special: { start: number; end: number; pad: number; names: string },
): BatchEncoding {
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new RangeError(
      `contextLength must be an integer >= 2 (${special.names}), got ${contextLength}`,
    );
  }
  const ids = new Int32Array(texts.length * contextLength).fill(special.pad);
  const mask = new Int32Array(texts.length * contextLength);
  texts.forEach((text, b) => {
    if (typeof text !== "string") {
      throw new TypeError(`texts[${b}] is ${typeof text}, expected a string`);
    }
    const pieces = tokenize(text).slice(0, contextLength - 2);
    const row = b * contextLength;
    ids[row] = special.start;
    ids.set(pieces, row + 1);
    ids[row + pieces.length + 1] = special.end;
    mask.fill(1, row, row + pieces.length + 2);
  });
  return { ids, mask, batch: texts.length, contextLength };
}
