/**
 * Oracle for src/encoders/tokenizer.ts: Hugging Face's JavaScript port
 * (`@huggingface/transformers` 4.3.1, AutoTokenizer) loading bert-base-uncased tokenizer files
 * built from `../shared/data/tokenizer/bert-base-uncased.vocab.txt`, with the network off
 * (`env.allowRemoteModels = false`, files under a temporary `env.localModelPath`).
 *
 * Run by hand from the repository root (downloads the package on first use):
 *   deno run -A --no-lock tests/oracle/tokenizer_oracle.ts   (keeps transformers.js out of deno.lock)
 *
 * 1. Checks WordPieceTokenizer against it on all 3,826 IU X-ray reports (findings + " " +
 *    impression), ids and masks at context 256:
 *    - untruncated `[CLS] … [SEP]` encodings must be equal;
 *    - with transformers.js's own `padding: "max_length", truncation: true, max_length: 256`
 *      they must be equal, except that transformers.js truncates by cutting the tail (its
 *      `truncateHelper`), dropping [SEP] from texts longer than 256 tokens, where Python
 *      transformers (what open_clip's HFTokenizer runs) truncates the text and keeps [SEP]:
 *      those reports must differ at the last position only.
 * 2. Writes tests/fixtures/tokenizer_expected.json: transformers.js's untruncated ids of 50
 *    reports (the first 46 and the 4 longer than 256 tokens) and of edge-case texts (accents,
 *    CJK, punctuation, long words, control characters, empty text), which
 *    tests/tokenizer_test.ts checks without transformers.js.
 *
 * @module
 */

import { parseVocab, WordPieceTokenizer } from "../../src/encoders/tokenizer.ts";
import { bertTokenizerFiles } from "../util/hf_bert.ts";
import { readIuReports } from "../util/iu_reports.ts";
import { EDGE_CASES } from "../util/tokenizer_cases.ts";

const DATA = "../shared/data";
const VOCAB = `${DATA}/tokenizer/bert-base-uncased.vocab.txt`;
const CONTEXT = 256;

interface HfEncoded {
  input_ids: { tolist(): (number | bigint)[][] };
  attention_mask: { tolist(): (number | bigint)[][] };
}
type HfTokenizer = (text: string, opts?: Record<string, unknown>) => HfEncoded;

// Imported from a variable so that `deno check` / CI never fetch this package (it pulls in
// ~330 MB of onnxruntime-node); only this hand-run script needs it.
const transformersSpecifier = "npm:@huggingface/transformers@4.3.1";
const { AutoTokenizer, env } = await import(transformersSpecifier);

const dir = await Deno.makeTempDir();
const files = bertTokenizerFiles(parseVocab(await Deno.readTextFile(VOCAB)));
await Deno.mkdir(`${dir}/bert-base-uncased`);
await Deno.writeTextFile(
  `${dir}/bert-base-uncased/tokenizer.json`,
  JSON.stringify(files.tokenizer),
);
await Deno.writeTextFile(
  `${dir}/bert-base-uncased/tokenizer_config.json`,
  JSON.stringify(files.config),
);
env.allowRemoteModels = false;
env.localModelPath = dir;
const hf: HfTokenizer = await AutoTokenizer.from_pretrained("bert-base-uncased");
const ours = await WordPieceTokenizer.fromVocabFile(VOCAB);

const row = (e: HfEncoded, key: "input_ids" | "attention_mask") => e[key].tolist()[0].map(Number);
const untruncated = (text: string) => row(hf(text), "input_ids");

const reports = await readIuReports(`${DATA}/iu-xray-reports/dataset.csv`);
const problems: string[] = [];
const long: string[] = [];
for (const r of reports) {
  const full = untruncated(r.text);
  const mine = ours.encode(r.text, Math.max(full.length, 2));
  if (full.join() !== Array.from(mine.ids).join()) problems.push(`${r.id}: untruncated ids differ`);
  const e = hf(r.text, { padding: "max_length", truncation: true, max_length: CONTEXT });
  const ids = row(e, "input_ids"), mask = row(e, "attention_mask");
  const got = ours.encode(r.text, CONTEXT);
  const differ = ids.flatMap((v, i) => (v !== got.ids[i] || mask[i] !== got.mask[i] ? [i] : []));
  if (full.length > CONTEXT) {
    long.push(r.id);
    const ok = differ.join() === `${CONTEXT - 1}` && got.ids[CONTEXT - 1] === ours.sepId;
    if (!ok) problems.push(`${r.id}: truncated encoding differs at ${differ.join(",")}`);
  } else if (differ.length > 0) {
    problems.push(`${r.id}: ids/mask differ at ${differ.slice(0, 5).join(",")}`);
  }
}
console.log(
  `${reports.length} reports: ${problems.length} problems; ${long.length} longer than ` +
    `${CONTEXT} tokens (${long.join(", ")}): transformers.js drops [SEP] there, we keep it`,
);
for (const p of problems.slice(0, 20)) console.log("  " + p);

const sample = [...reports.slice(0, 46), ...reports.filter((r) => long.includes(r.id))];
const edge = EDGE_CASES.map((text) => ({ text, ids: untruncated(text) }));
const edgeProblems = edge.filter((c) =>
  c.ids.join() !== Array.from(ours.encode(c.text, c.ids.length).ids).join()
);
for (const c of edgeProblems) console.log(`  edge case differs: ${JSON.stringify(c.text)}`);
const doc = {
  about: "Written by tests/oracle/tokenizer_oracle.ts: untruncated [CLS] … [SEP] ids from " +
    "@huggingface/transformers 4.3.1 with bert-base-uncased.vocab.txt (shared data).",
  reports: sample.map((r) => ({ id: r.id, text: r.text, ids: untruncated(r.text) })),
  edge_cases: edge,
};
await Deno.writeTextFile(
  "tests/fixtures/tokenizer_expected.json",
  JSON.stringify(doc, null, 1) + "\n",
);
await new Deno.Command("deno", { args: ["fmt", "tests/fixtures/tokenizer_expected.json"] })
  .output();
await Deno.remove(dir, { recursive: true });
if (problems.length > 0 || edgeProblems.length > 0) Deno.exit(1);
