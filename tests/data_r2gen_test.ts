import assert from "node:assert/strict";
import { join } from "node:path";
import { labelTable } from "../src/data/labels.ts";
import { loadOpenI } from "../src/data/openi.ts";
import { loadR2Gen, r2genStudyKey } from "../src/data/r2gen.ts";
import { DatasetError, validateRecord } from "../src/data/record.ts";

const IU = "tests/fixtures/data/r2gen/iu_xray/annotation.json";
const MIMIC = "tests/fixtures/data/r2gen/mimic_cxr/annotation.json";
const quiet = { log: () => {} };

async function openiLabels() {
  const { records } = await loadOpenI({
    reportsDir: "tests/fixtures/data/openi/ecgen-radiology",
    imagesDir: "tests/fixtures/data/openi/png",
    checkImages: false,
    ...quiet,
  });
  return labelTable(records);
}

Deno.test("r2gen: refuses to guess labels unless a source is given", async () => {
  await assert.rejects(() => loadR2Gen({ path: IU }), /carry no normal\/abnormal label/);
});

Deno.test("r2gen iu_xray: labels from the Open-i MeSH table, splits from the buckets", async () => {
  const { records, problems } = await loadR2Gen({
    path: IU,
    labels: await openiLabels(),
    ...quiet,
  });
  assert.deepEqual(records.map((r) => [r.id, r.patientId, r.split, r.label]), [
    ["CXR1_1_IM-0001", "CXR1", "train", 0],
    ["CXR2_IM-0652", "CXR2", "train", 1],
    ["CXR3_IM-1384", "CXR3", "validation", 0],
  ]);
  assert.deepEqual(records[0].imagePaths, [
    join("tests/fixtures/data/r2gen/iu_xray/images/CXR1_1_IM-0001/0.png"),
    join("tests/fixtures/data/r2gen/iu_xray/images/CXR1_1_IM-0001/1.png"),
  ]);
  assert.deepEqual(records[1].findings, ["Cardiomegaly/borderline", "Pulmonary Artery/enlarged"]);
  assert.equal(records[2].report, "No active disease.");
  for (const r of records) assert.deepEqual(validateRecord(r), []);
  // a one-line file: every problem is on line 1, the reason names bucket[index] and id
  assert.deepEqual(problems.map((p) => [p.line, p.kind, p.reason.split(":")[0]]), [
    [1, "unknown-label", "train[2] CXR4_IM-2050"],
    [1, "empty-report", "val[1] CXR5_IM-2100"],
    [1, "unknown-label", "test[0] CXR6_IM-2101"],
    [1, "duplicate", "test[1] CXR1_1_IM-0001"],
    [1, "split-conflict", "test[2] CXR7_IM-2263"],
  ]);
});

Deno.test("r2gen iu_xray: labelFromText fills gaps; then the missing image shows", async () => {
  const { records, problems } = await loadR2Gen({
    path: IU,
    labels: await openiLabels(),
    labelFromText: true,
    ...quiet,
  });
  const cxr4 = records.find((r) => r.id === "CXR4_IM-2050");
  assert.deepEqual([cxr4?.label, cxr4?.findings], [1, ["atelectasis", "opacity"]]);
  const missing = problems.find((p) => p.kind === "missing-image");
  assert.match(missing?.reason ?? "", /test\[0\] CXR6_IM-2101: image file .*CXR6_IM-2101\/1\.png/);
  await assert.rejects(
    () => loadR2Gen({ path: IU, labelFromText: true, strict: true }),
    DatasetError,
  );
});

Deno.test("r2gen mimic_cxr: p<subject_id> patients, per-entry lines, text labels", async () => {
  const { records, problems } = await loadR2Gen({ path: MIMIC, labelFromText: true, ...quiet });
  assert.deepEqual(records.map((r) => [r.patientId, r.split, r.label]), [
    ["p10000032", "train", 0],
    ["p10000032", "train", 0],
    ["p10000032", "train", 1],
    ["p10000764", "validation", 1],
  ]);
  assert.deepEqual(records[2].findings, ["cardiomegaly", "pleural effusion"]);
  assert.ok(records[0].imagePaths[0].endsWith(
    "images/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg",
  ));
  assert.deepEqual(problems.map((p) => [p.line, p.kind]), [[48, "missing-image"]]);
  assert.equal(r2genStudyKey({ id: "x", study_id: 50414267 }), "s50414267");
});
