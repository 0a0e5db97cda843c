/**
 * WordPieceTokenizer: BERT's rules on a small hand-made vocabulary (always runs), then against
 * Hugging Face's JS tokenizer with the bert-base-uncased vocabulary from the shared data:
 * - the fixture written by tests/oracle/tokenizer_oracle.ts with `@huggingface/transformers`
 *   (50 reports and the edge cases of tests/util/tokenizer_cases.ts);
 * - all 3,826 IU X-ray reports against `@huggingface/tokenizers`, the tokenizer library that
 *   `@huggingface/transformers` 4.3.1 runs (light, no network), with the same files.
 * Ids must be equal. At context 256 the expected encoding is Python transformers' (open_clip's
 * HFTokenizer): `[CLS] + pieces[:254] + [SEP]`, then [PAD].
 */

import assert from "node:assert/strict";
import { Tokenizer } from "@huggingface/tokenizers";
import { parseVocab, WordPieceTokenizer } from "../src/encoders/tokenizer.ts";
import { bertTokenizerFiles } from "./util/hf_bert.ts";
import { readIuReports } from "./util/iu_reports.ts";
import { EDGE_CASES } from "./util/tokenizer_cases.ts";
import { sharedDataPath } from "./util/shared_data.ts";

const TINY = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]", // 0-4
  "the",
  "cat",
  "##s",
  "un",
  "##aff",
  "##able", // 5-10
  ",",
  ".",
  "!",
  "cafe",
  "hello",
  "x",
  "##x", // 11-17
  "中",
  "文",
  "𠀀",
  "a",
  "b", // 18-22
];
const tiny = new WordPieceTokenizer(TINY, "tiny vocabulary");
const ids = (...tokens: string[]) => tokens.map((t) => TINY.indexOf(t));

Deno.test("tokenizer: WordPiece pieces, [CLS] … [SEP], padding and mask", () => {
  const { ids: got, mask } = tiny.encode("The unaffable cats!", 10);
  assert.deepEqual(
    Array.from(got),
    [...ids("[CLS]", "the", "un", "##aff", "##able", "cat", "##s", "!", "[SEP]"), 0],
  );
  assert.deepEqual(Array.from(mask), [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
});

Deno.test("tokenizer: lower-case, accents, CJK (BMP and astral), punctuation", () => {
  assert.deepEqual(tiny.tokenize("CAFÉ Café cafe\u0301"), ids("cafe", "cafe", "cafe"));
  assert.deepEqual(tiny.tokenize("中文"), ids("中", "文"));
  // astral ideographs are split too (the JS port misses them: it scans UTF-16 units)
  assert.deepEqual(tiny.tokenize("𠀀𠀀"), ids("𠀀", "𠀀"));
  assert.deepEqual(tiny.tokenize("a,b.the!!"), ids("a", ",", "b", ".", "the", "!", "!"));
  assert.deepEqual(tiny.tokenize("a-b"), ids("a", "[UNK]", "b")); // "-" is punctuation
});

Deno.test("tokenizer: unknown and over-long words become one [UNK]", () => {
  assert.deepEqual(tiny.tokenize("catz the"), ids("[UNK]", "the")); // "z" uncovered: whole word
  assert.deepEqual(tiny.tokenize("x".repeat(100)), ids("x", ...Array(99).fill("##x")));
  assert.deepEqual(tiny.tokenize("x".repeat(101)), ids("[UNK]"));
});

Deno.test("tokenizer: controls dropped, whitespace of every kind splits", () => {
  // NUL, zero-width space (Cf), U+FFFD and an unassigned code point (Cn) vanish inside words
  const text = "hel\u0000lo\u200b\tthe\u00a0cat\u3000a\u2028b x\u0378x\uFFFDx";
  assert.deepEqual(tiny.tokenize(text), ids("hello", "the", "cat", "a", "b", "x", "##x", "##x"));
  assert.deepEqual(tiny.tokenize(""), []);
  assert.deepEqual(tiny.tokenize(" \n\t "), []);
  const empty = tiny.encode("", 4);
  assert.deepEqual([Array.from(empty.ids), Array.from(empty.mask)], [[2, 3, 0, 0], [1, 1, 0, 0]]);
});

Deno.test("tokenizer: special tokens written in the text (case-sensitive)", () => {
  assert.deepEqual(
    tiny.tokenize("[MASK] the[SEP]cat [mask]"),
    ids("[MASK]", "the", "[SEP]", "cat", "[UNK]", "[UNK]", "[UNK]"), // "[", "mask", "]"
  );
});

Deno.test("tokenizer: truncation keeps [SEP]; batches are rows of encode", () => {
  assert.deepEqual(
    Array.from(tiny.encode("the cat the cat", 4).ids),
    ids("[CLS]", "the", "cat", "[SEP]"),
  );
  assert.deepEqual(Array.from(tiny.encode("the cat", 2).ids), ids("[CLS]", "[SEP]"));
  assert.throws(() => tiny.encode("the", 1), /contextLength must be an integer >= 2/);
  const texts = ["the cat", "", "unaffable"];
  const batch = tiny.encodeBatch(texts, 6);
  assert.equal(batch.batch, 3);
  texts.forEach((t, b) => {
    const one = tiny.encode(t, 6);
    assert.deepEqual(batch.ids.subarray(b * 6, b * 6 + 6), one.ids);
    assert.deepEqual(batch.mask.subarray(b * 6, b * 6 + 6), one.mask);
  });
});

Deno.test("tokenizer: bad vocabularies name their source", async () => {
  assert.throws(
    () => new WordPieceTokenizer(["[UNK]", "[CLS]", "[SEP]"], "v.txt"),
    /v\.txt: no \[PAD\] token in 3 tokens/,
  );
  await assert.rejects(
    WordPieceTokenizer.fromVocabFile("no/such/vocab.txt"),
    /no\/such\/vocab\.txt: cannot read vocabulary/,
  );
});

const VOCAB = sharedDataPath(
  "tokenizer/bert-base-uncased.vocab.txt",
  "tokenizer tests on the BERT vocabulary",
);
const CSV = sharedDataPath("iu-xray-reports/dataset.csv", "tokenizer test on all IU X-ray reports");
const CONTEXT = 256;

/** Python transformers' encoding at `context` from untruncated `[CLS] … [SEP]` ids. */
function pythonTruncation(full: readonly number[], context: number) {
  const pieces = full.slice(1, -1).slice(0, context - 2);
  const ids = [full[0], ...pieces, full.at(-1)!];
  const mask = ids.map(() => 1);
  while (ids.length < context) ids.push(0), mask.push(0);
  return { ids, mask };
}

function checkAgainst(
  tok: WordPieceTokenizer,
  label: string,
  text: string,
  full: readonly number[],
) {
  const untruncated = tok.encode(text, Math.max(full.length, 2));
  assert.deepEqual(Array.from(untruncated.ids), full, `${label}: untruncated ids`);
  const want = pythonTruncation(full, CONTEXT);
  const got = tok.encode(text, CONTEXT);
  assert.deepEqual(Array.from(got.ids), want.ids, `${label}: ids at context ${CONTEXT}`);
  assert.deepEqual(Array.from(got.mask), want.mask, `${label}: mask at context ${CONTEXT}`);
}

Deno.test({
  name: "tokenizer: equals @huggingface/transformers on the fixture (50 reports, edge cases)",
  ignore: VOCAB === null,
  fn: async () => {
    const tok = await WordPieceTokenizer.fromVocabFile(VOCAB!);
    const doc = JSON.parse(await Deno.readTextFile("tests/fixtures/tokenizer_expected.json")) as {
      reports: { id: string; text: string; ids: number[] }[];
      edge_cases: { text: string; ids: number[] }[];
    };
    assert.deepEqual(doc.edge_cases.map((c) => c.text), EDGE_CASES);
    for (const r of doc.reports) checkAgainst(tok, r.id, r.text, r.ids);
    for (const c of doc.edge_cases) checkAgainst(tok, JSON.stringify(c.text), c.text, c.ids);
  },
});

Deno.test({
  name: "tokenizer: equals @huggingface/tokenizers on all 3,826 IU X-ray reports",
  ignore: VOCAB === null || CSV === null,
  fn: async () => {
    const tok = await WordPieceTokenizer.fromVocabFile(VOCAB!);
    const files = bertTokenizerFiles(parseVocab(await Deno.readTextFile(VOCAB!)));
    const hf = new Tokenizer(files.tokenizer, files.config);
    const reports = await readIuReports(CSV!);
    assert.equal(reports.length, 3826);
    for (const r of reports) checkAgainst(tok, r.id, r.text, hf.encode(r.text).ids);
    for (const text of EDGE_CASES) {
      checkAgainst(tok, JSON.stringify(text), text, hf.encode(text).ids);
    }
  },
});
