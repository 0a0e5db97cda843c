import assert from "node:assert/strict";
import { join } from "node:path";
import { loadOpenI } from "../src/data/openi.ts";
import { DatasetError, validateRecord } from "../src/data/record.ts";

const DIR = "tests/fixtures/data/openi";
const opts = { reportsDir: join(DIR, "ecgen-radiology"), imagesDir: join(DIR, "png") };

Deno.test("openi: reads uId, MeSH label, FINDINGS + IMPRESSION and parentImage PNGs", async () => {
  const logs: string[] = [];
  const { records } = await loadOpenI({ ...opts, log: (m) => logs.push(m) });
  assert.deepEqual(records.map((r) => r.id), ["CXR1", "CXR2", "CXR3"]);
  const [normal, abnormal, impressionOnly] = records;
  assert.deepEqual(normal.label, 0);
  assert.deepEqual(normal.findings, []);
  assert.deepEqual(normal.patientId, "CXR1");
  assert.deepEqual(normal.split, null);
  assert.deepEqual(normal.imagePaths, [
    join(DIR, "png", "CXR1_1_IM-0001-3001.png"),
    join(DIR, "png", "CXR1_1_IM-0001-4001.png"),
  ]);
  assert(normal.report.startsWith("FINDINGS: The heart size is normal."));
  assert(normal.report.endsWith("\nIMPRESSION: Normal chest x-XXXX."));
  assert.deepEqual(abnormal.label, 1);
  assert.deepEqual(abnormal.findings, ["Cardiomegaly/borderline", "Pulmonary Artery/enlarged"]);
  assert.deepEqual(
    abnormal.report,
    "FINDINGS: Borderline heart size. The pulmonary arteries are prominent (> 3 cm). " +
      "Lungs are clear.\nIMPRESSION: Borderline cardiomegaly. Enlarged pulmonary arteries.",
  );
  assert.deepEqual(impressionOnly.report, "IMPRESSION: No active disease.");
  for (const r of records) assert.deepEqual(validateRecord(r), []);
  assert.deepEqual(logs.length, 1);
  assert(logs[0].startsWith("openi: kept 3 of 10 rows; skipped 7"), logs[0]);
});

Deno.test("openi: every bad report is a problem with its file, line and reason", async () => {
  const { problems } = await loadOpenI({ ...opts, log: () => {} });
  const got = problems.map((p) => [p.file.split("/").pop(), p.line, p.kind]);
  assert.deepEqual(got, [
    ["4.xml", 2, "missing-image"], // no <parentImage>: line of <eCitation>
    ["5.xml", 31, "empty-report"], // both sections empty: line of <Abstract>
    ["6.xml", 47, "unknown-label"], // no <major>: line of <MeSH>
    ["7.xml", 58, "missing-image"], // second parentImage's PNG absent
    ["8.xml", 47, "unknown-label"], // normal mixed with Kyphosis
    ["9.xml", 25, "malformed"], // truncated XML
    ["10.xml", 2, "duplicate"], // uId CXR2 again
  ]);
  assert(problems[3].reason.includes("CXR7_IM-2263-2001.png not found"), problems[3].reason);
  assert(problems[4].reason.includes("Kyphosis"), problems[4].reason);
  assert(problems[6].reason.includes("duplicate uId CXR2"), problems[6].reason);
});

Deno.test("openi: strict mode fails listing every problem; checkImages false keeps CXR7", async () => {
  await assert.rejects(() => loadOpenI({ ...opts, strict: true }), (err) => {
    assert(err instanceof DatasetError);
    assert.equal(err.problems.length, 7);
    assert(err.message.includes("7.xml:58: CXR7: image file"), err.message);
    return true;
  });
  const { records } = await loadOpenI({ ...opts, checkImages: false, log: () => {} });
  assert.deepEqual(records.map((r) => r.id), ["CXR1", "CXR2", "CXR3", "CXR7"]);
});
