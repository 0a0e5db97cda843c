/**
 * ClipTokenizer (CLIP's byte-level BPE, as open_clip's SimpleTokenizer):
 * - rules on hand-made merges (always runs);
 * - all 3,826 IU X-ray reports against `@huggingface/tokenizers` running the `tokenizer.json`
 *   that a weights folder keeps, with a 300-merge vocabulary learned once from those reports by
 *   pair frequency (`tests/fixtures/clip_tiny/bpe_tiny.txt`, data; shared data needed);
 * - with the real vocabulary: `CXR_CLIP_BPE=<bpe_simple_vocab_16e6.txt.gz>` runs the reports
 *   against `@huggingface/tokenizers`, and with `CXR_CLIP_REFERENCE=<json>`, the ids open_clip's
 *   own tokenizer gives (`{cases: [{text, ids}], reports: [{id, text, ids}]}`, untruncated),
 *   every text against it.
 */

import assert from "node:assert/strict";
import { gzipSync } from "fflate";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { cleanLower, fixText, htmlUnescape } from "../src/encoders/clip_text_clean.ts";
import { bytesToUnicode, ClipTokenizer, clipVocabulary } from "../src/encoders/clip_tokenizer.ts";
import {
  type ClipBpe,
  clipTokenizerJson,
  parseMerges,
  readClipTokenizer,
} from "../src/encoders/clip_tokenizer_files.ts";
import { readIuReports } from "./util/iu_reports.ts";
import { sharedDataPath } from "./util/shared_data.ts";
import { rejectsWith } from "./util/errors.ts";

const TINY_BPE = "tests/fixtures/clip_tiny/bpe_tiny.txt";
const CONTEXT = 77;

const MERGES: [string, string][] = [["n", "o</w>"], ["e", "f"], ["ef", "f"], ["u", "s"]];
const hand = new ClipTokenizer(clipVocabulary(MERGES), MERGES, "hand-made merges");
const id = (token: string) => hand.vocab.get(token)!;

Deno.test("clip tokenizer: byte encoder and vocabulary order are CLIP's", () => {
  const bytes = bytesToUnicode();
  assert.equal(new Set(bytes).size, 256);
  assert.deepEqual([bytes[0x21], bytes[0x7e], bytes[0x00], bytes[0x20], bytes[0xad]], [
    "!",
    "~",
    "\u0100",
    "\u0120",
    "\u0143",
  ]);
  const v = clipVocabulary(MERGES);
  assert.deepEqual([v[0], v[187], v[188], v[256], v[511]], ["!", "ÿ", "Ā", "!</w>", "Ń</w>"]);
  assert.deepEqual(v.slice(512), ["no</w>", "ef", "eff", "us", "<|startoftext|>", "<|endoftext|>"]);
});

/** The tokens of `text`, space-separated. */
function split(text: string): string {
  const byId = new Map([...hand.vocab].map(([t, i]) => [i, t]));
  return hand.tokenize(text).map((i) => byId.get(i)).join(" ");
}

Deno.test("clip tokenizer: BPE merges by rank, words end in </w>, UTF-8 bytes", () => {
  assert.equal(split("No"), "no</w>");
  // e f → ef (rank 1), then ef f → eff (rank 2) and u s → us (rank 3); nothing makes ion</w>.
  assert.equal(split("Effusion"), "eff us i o n</w>");
  assert.equal(split("é"), "Ã ©</w>"); // the bytes C3 A9
  assert.equal(split("中"), "ä ¸ Ń</w>"); // E4 B8 AD: AD is not printable, so U+0143
});

Deno.test("clip tokenizer: contractions, letters, single digits and symbol runs, as CLIP's pattern", () => {
  assert.equal(split("It's a-b 12?!"), "i t</w> ' s</w> a</w> -</w> b</w> 1</w> 2</w> ? !</w>");
  assert.equal(split("we'll"), "w e</w> ' l l</w>");
});

Deno.test("clip tokenizer: start/end tokens, padding with 0, truncation keeps the end token", () => {
  const { ids, mask } = hand.encode("no no", 6);
  assert.deepEqual(Array.from(ids), [hand.sotId, id("no</w>"), id("no</w>"), hand.eotId, 0, 0]);
  assert.deepEqual(Array.from(mask), [1, 1, 1, 1, 0, 0]);
  const cut = hand.encode("no no no no", 4);
  assert.deepEqual(Array.from(cut.ids), [hand.sotId, id("no</w>"), id("no</w>"), hand.eotId]);
  assert.deepEqual(Array.from(hand.encode("", 2).ids), [hand.sotId, hand.eotId]);
  assert.throws(() => hand.encode("no", 1), /contextLength must be an integer >= 2/);
  // Literal special tokens in a text are those tokens (the text tower pools at the first).
  assert.deepEqual(hand.tokenize("no<|endoftext|>"), [id("no</w>"), hand.eotId]);
  const texts = ["no", "", "eff eff"];
  const batch = hand.encodeBatch(texts, 5);
  texts.forEach((t, b) => {
    assert.deepEqual(batch.ids.subarray(b * 5, b * 5 + 5), hand.encode(t, 5).ids);
    assert.deepEqual(batch.mask.subarray(b * 5, b * 5 + 5), hand.encode(t, 5).mask);
  });
});

Deno.test("clip text cleaning: ftfy's fixes, HTML unescaping twice, whitespace, lower-case", () => {
  assert.equal(cleanLower("  Heart &amp;amp; LUNGS\r\n\t ok\u00a0 "), "heart & lungs ok");
  assert.equal(
    fixText("\u201cq\u201d \u2018s\u2019 \ufb01 \uff21\u3000\x1b[1mB\x1b[0m\u0000"),
    "\"q\" 's' fi A B",
  );
  assert.equal(fixText("\x93c1\x94"), '"c1"'); // C1 controls as Windows-1252, then uncurled
  assert.equal(fixText("&NTILDE; &ntilde; &nTILDE; &lt;"), "Ñ ñ &nTILDE; <");
  assert.equal(fixText("a < b &amp; c\n&amp;"), "a < b &amp; c\n&amp;"); // "<" stops unescaping
  assert.equal(
    htmlUnescape("&#128;&#0;&#x110000;&#1;x&#65&ampfoo&notit;"),
    "€\ufffd\ufffdxA&foo¬it;",
  );
  assert.equal(cleanLower("e\u0301"), "é"); // NFC
});

/** open_clip's encoding at `context` from untruncated start … end ids. */
function truncated(full: readonly number[], context: number): number[] {
  const ids = full.length > context ? [...full.slice(0, context - 1), full.at(-1)!] : [...full];
  while (ids.length < context) ids.push(0);
  return ids;
}

function checkAgainst(tok: ClipTokenizer, label: string, text: string, full: readonly number[]) {
  assert.deepEqual(
    Array.from(tok.encode(text, Math.max(full.length, 2)).ids),
    full,
    `${label}: untruncated ids`,
  );
  const got = tok.encode(text, CONTEXT);
  assert.deepEqual(Array.from(got.ids), truncated(full, CONTEXT), `${label}: ids at ${CONTEXT}`);
  const n = Math.min(full.length, CONTEXT);
  assert.deepEqual(Array.from(got.mask), Array.from({ length: CONTEXT }, (_, i) => +(i < n)));
}

interface Reference {
  cases: { text: string; ids: number[] }[];
  reports: { id: string; text: string; ids: number[] }[];
}

const CSV = sharedDataPath("iu-xray-reports/dataset.csv", "CLIP tokenizer test on the IU reports");

/** Every report against @huggingface/tokenizers running the folder's tokenizer.json. */
async function checkReportsAgainstHf(bpe: ClipBpe, source: string) {
  const tok = new ClipTokenizer(bpe.vocab, bpe.merges, source);
  const hf = new Tokenizer(clipTokenizerJson(bpe), {});
  const reports = await readIuReports(CSV!);
  assert.equal(reports.length, 3826);
  for (const r of reports) {
    // HF's CLIP normalizer does not unescape HTML (open_clip does): 3 reports hold &gt; / &lt;.
    checkAgainst(tok, r.id, r.text, hf.encode(htmlUnescape(r.text)).ids);
  }
}

Deno.test({
  name: "clip tokenizer: equals @huggingface/tokenizers on all 3,826 IU reports (tiny vocabulary)",
  ignore: CSV === null,
  fn: async () => await checkReportsAgainstHf(await readClipTokenizer(TINY_BPE), TINY_BPE),
});

const REAL_BPE = Deno.env.get("CXR_CLIP_BPE");
const REFERENCE = Deno.env.get("CXR_CLIP_REFERENCE");
if (!REAL_BPE) {
  console.warn(
    "skipping the CLIP tokenizer tests on the real vocabulary: set CXR_CLIP_BPE to " +
      "bpe_simple_vocab_16e6.txt.gz (and CXR_CLIP_REFERENCE to open_clip's ids for it)",
  );
}

Deno.test({
  name: "clip tokenizer (real vocabulary): equals @huggingface/tokenizers on all IU reports",
  ignore: !REAL_BPE || CSV === null,
  fn: async () => {
    const bpe = await readClipTokenizer(REAL_BPE!);
    assert.equal(bpe.vocab.size, 49408);
    await checkReportsAgainstHf(bpe, REAL_BPE!);
  },
});

Deno.test({
  name: "clip tokenizer (real vocabulary): equals open_clip's SimpleTokenizer on every report",
  ignore: !REAL_BPE || !REFERENCE,
  fn: async () => {
    const bpe = await readClipTokenizer(REAL_BPE!);
    const tok = new ClipTokenizer(bpe.vocab, bpe.merges, REAL_BPE!);
    const ref: Reference = JSON.parse(await Deno.readTextFile(REFERENCE!));
    const reports = CSV ? await readIuReports(CSV) : [];
    if (CSV) {
      assert.deepEqual(ref.reports.map((r) => [r.id, r.text]), reports.map((r) => [r.id, r.text]));
    }
    for (const c of ref.cases) checkAgainst(tok, JSON.stringify(c.text), c.text, c.ids);
    for (const r of ref.reports) checkAgainst(tok, r.id, r.text, r.ids);
    console.log(`${ref.reports.length} reports and ${ref.cases.length} edge cases: same ids`);
  },
});

Deno.test("clip tokenizer files: merges .txt, .gz, tokenizer.json, vocab.json + merges.txt", async () => {
  const text = await Deno.readTextFile(TINY_BPE);
  const dir = await Deno.makeTempDir();
  try {
    const plain = await readClipTokenizer(TINY_BPE);
    assert.equal(plain.merges.length, 300);
    assert.equal(plain.vocab.size, 814);
    await Deno.writeFile(join(dir, "bpe.txt.gz"), gzipSync(new TextEncoder().encode(text)));
    assert.deepEqual(await readClipTokenizer(join(dir, "bpe.txt.gz")), plain);
    await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(clipTokenizerJson(plain)));
    assert.deepEqual(await readClipTokenizer(join(dir, "tokenizer.json")), plain);
    const vocab = Object.fromEntries(plain.vocab);
    await Deno.writeTextFile(join(dir, "vocab.json"), JSON.stringify(vocab));
    await Deno.writeTextFile(join(dir, "merges.txt"), text);
    assert.deepEqual(await readClipTokenizer(join(dir, "vocab.json")), plain);
    // The real file holds 262,144 merges; CLIP keeps 48,894.
    assert.equal(parseMerges(text, "x", 10).length, 10);

    await rejectsWith(() => readClipTokenizer(join(dir, "nope.txt")), "nope.txt: cannot read");
    await Deno.writeTextFile(join(dir, "bad.txt"), "i n\nt h\n");
    await rejectsWith(
      () => readClipTokenizer(join(dir, "bad.txt")),
      "expected a BPE merges header",
    );
    await Deno.writeTextFile(join(dir, "bad2.txt"), "#version: 0.2\ni n x\n");
    await rejectsWith(() => readClipTokenizer(join(dir, "bad2.txt")), 'line 2 is "i n x"');
    delete vocab["th"];
    await Deno.writeTextFile(join(dir, "vocab.json"), JSON.stringify(vocab));
    await rejectsWith(() => readClipTokenizer(join(dir, "vocab.json")), "ids are not 0..812");
    const wordPiece = { model: { type: "WordPiece", vocab: {} } };
    await Deno.writeTextFile(join(dir, "wp.json"), JSON.stringify(wordPiece));
    await rejectsWith(() => readClipTokenizer(join(dir, "wp.json")), "not a CLIP tokenizer.json");
    assert.throws(
      () => new ClipTokenizer(clipVocabulary([]).slice(0, -1), [], "v"),
      /v: no token "<\|endoftext\|>" \(the end token\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
