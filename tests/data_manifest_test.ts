import assert from "node:assert/strict";
import { join } from "node:path";
import { loadManifest, RECORD_COLUMNS, writeManifest } from "../src/data/manifest.ts";
import { DatasetError, validateRecord } from "../src/data/record.ts";

const DIR = "tests/fixtures/data/manifest";
const quiet = { log: () => {} };
const csvColumns = {
  imageColumns: ["frontal", "lateral"],
  reportColumn: "findings",
  impressionColumn: "impression",
  labelColumn: "diagnosis",
  normalValue: "normal",
  abnormalValues: ["abnormal"],
  idColumn: "study",
  patientColumn: "patient",
  splitColumn: "fold",
  findingsColumn: "tags",
};

Deno.test("manifest csv: column flags, several image columns, sections, splits", async () => {
  const { records, problems } = await loadManifest({
    path: join(DIR, "studies.csv"),
    ...csvColumns,
    ...quiet,
  });
  assert.deepEqual(records.map((r) => [r.id, r.patientId, r.split, r.label]), [
    ["st1", "pa", "train", 0],
    ["st2", "pa", "validation", 1],
    ["st9", "st9", null, 1], // empty patient → the id; empty split → null
  ]);
  assert.deepEqual(records[0].imagePaths, [join(DIR, "images/a1.png"), join(DIR, "images/a2.png")]);
  assert.equal(
    records[1].report,
    "FINDINGS: Small left effusion. No pneumothorax.\nIMPRESSION: Effusion.",
  );
  assert.deepEqual(records[1].findings, ["effusion", "left"]);
  assert.equal(records[2].report, "FINDINGS: Cardiomegaly.");
  for (const r of records) assert.deepEqual(validateRecord(r), []);
  assert.deepEqual(problems.map((p) => [p.line, p.kind]), [
    [5, "empty-report"],
    [6, "missing-image"],
    [7, "unknown-label"],
    [8, "malformed"], // split "holdout"
    [9, "duplicate"],
    [10, "malformed"], // empty id
  ]);
  assert.match(problems[2].reason, /st5: diagnosis "unclear" \(expected normal or abnormal\)/);
});

Deno.test("manifest jsonl: arrays or strings, bad JSON and missing fields reported", async () => {
  const { records, problems } = await loadManifest({
    path: join(DIR, "studies.jsonl"),
    imageColumns: ["images"],
    reportColumn: "text",
    labelColumn: "y",
    normalValue: 0,
    abnormalValues: [1],
    idColumn: "uid",
    patientColumn: "pid",
    splitColumn: "set",
    findingsColumn: "tags",
    ...quiet,
  });
  assert.deepEqual(records.map((r) => [r.id, r.split, r.label, r.findings]), [
    ["j1", "train", 0, []],
    ["j4", "validation", 1, ["effusion"]],
  ]);
  assert.deepEqual(problems.map((p) => [p.line, p.kind]), [
    [2, "malformed"],
    [3, "malformed"],
    [6, "unknown-label"],
  ]);
  assert.match(problems[1].reason, /missing field\(s\) images/);
  await assert.rejects(
    () => loadManifest({ path: join(DIR, "studies.csv"), ...csvColumns, strict: true }),
    DatasetError,
  );
});

Deno.test("writeManifest + RECORD_COLUMNS round-trips records, meta included", async () => {
  const { records } = await loadManifest({
    path: join(DIR, "studies.csv"),
    ...csvColumns,
    ...quiet,
  });
  const tagged = records.map((r) => ({ ...r, meta: { source: "synthetic", synthetic: true } }));
  const out = join(DIR, "roundtrip.tmp");
  try {
    await writeManifest(out, tagged);
    const again = await loadManifest({ path: out, format: "jsonl", ...RECORD_COLUMNS });
    assert.deepEqual(again, { records: tagged, problems: [] });
  } finally {
    await Deno.remove(out);
  }
});
