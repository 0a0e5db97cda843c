/**
 * `tokenizer.json` and `tokenizer_config.json` of an uncased BERT tokenizer, built from a
 * `vocab.txt`, in the form Hugging Face publishes for bert-base-uncased: the files the
 * tokenizer oracles (`@huggingface/tokenizers`, `@huggingface/transformers`) load without the
 * network.
 *
 * @module
 */

/** Both files' contents. */
export interface HfTokenizerFiles {
  /** tokenizer.json */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
}

/**
 * The bert-base-uncased tokenizer files for `tokens` (id = index).
 * @example
 * ```ts
 * const files = bertTokenizerFiles(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the"]);
 * ```
 */
export function bertTokenizerFiles(tokens: readonly string[]): HfTokenizerFiles {
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  const token = (t: string) => ({ id: t, ids: [vocab[t]], tokens: [t] });
  return {
    tokenizer: {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: special.map((t) => ({
        id: vocab[t],
        content: t,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: {
        type: "BertNormalizer",
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: true,
      },
      pre_tokenizer: { type: "BertPreTokenizer" },
      post_processor: {
        type: "TemplateProcessing",
        single: [
          { SpecialToken: { id: "[CLS]", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "[SEP]", type_id: 0 } },
        ],
        pair: [
          { SpecialToken: { id: "[CLS]", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "[SEP]", type_id: 0 } },
          { Sequence: { id: "B", type_id: 1 } },
          { SpecialToken: { id: "[SEP]", type_id: 1 } },
        ],
        special_tokens: { "[CLS]": token("[CLS]"), "[SEP]": token("[SEP]") },
      },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
        vocab,
      },
    },
    config: {
      tokenizer_class: "BertTokenizer",
      do_lower_case: true,
      model_max_length: 512,
      cls_token: "[CLS]",
      sep_token: "[SEP]",
      pad_token: "[PAD]",
      unk_token: "[UNK]",
      mask_token: "[MASK]",
    },
  };
}
