import assert from "node:assert/strict";
import { join } from "node:path";
import {
  chexpertLabel,
  loadMimicCxr,
  parseMimicReport,
  readMimicLabels,
} from "../src/data/mimic_cxr.ts";
import { loadR2Gen } from "../src/data/r2gen.ts";
import { DatasetError, validateRecord } from "../src/data/record.ts";

const ROOT = "tests/fixtures/data/mimic_cxr";
const META = join(ROOT, "mimic-cxr-2.0.0-metadata.csv");

Deno.test("mimic-cxr: frontal images, split from split.csv.gz, CheXpert labels, sections", async () => {
  const logs: string[] = [];
  const { records } = await loadMimicCxr({ root: ROOT, log: (m) => logs.push(m) });
  assert.deepEqual(records.map((r) => [r.id, r.patientId, r.split, r.label]), [
    ["s50414267", "p10000032", "train", 0],
    ["s53189527", "p10000032", "train", 1],
    ["s51111111", "p10002013", "test", 0],
  ]);
  const [normal, abnormal, twoViews] = records;
  assert.deepEqual(normal.imagePaths, [
    join(ROOT, "files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg"),
  ]);
  assert.equal(
    normal.report,
    "FINDINGS: There is no focal consolidation, pleural effusion or pneumothorax. Bilateral " +
      "nodular opacities that most likely represent nipple shadows. The cardiomediastinal " +
      "silhouette is normal. Clips project over the left lung, potentially within the breast. " +
      "The imaged upper abdomen is unremarkable.\nIMPRESSION: No acute cardiopulmonary process.",
  );
  assert.deepEqual(abnormal.findings, [
    "Cardiomegaly",
    "Pleural Effusion (uncertain)",
    "Support Devices",
  ]);
  assert.ok(abnormal.report.startsWith("IMPRESSION: Moderate cardiomegaly."));
  assert.ok(!abnormal.report.includes("NOTIFICATION"), abnormal.report);
  assert.deepEqual(twoViews.meta?.views, ["PA", "AP"]);
  assert.deepEqual(twoViews.findings, ["Support Devices"]);
  for (const r of records) assert.deepEqual(validateRecord(r), []);
  assert.deepEqual(logs.slice(0, 1), ["mimic-cxr: left out 1 studies with no PA/AP image"]);
  assert.ok(logs[1].startsWith("mimic-cxr: kept 3 of 10 rows; skipped 7"), logs[1]);
});

Deno.test("mimic-cxr: each bad study is a problem at its first metadata line", async () => {
  const { problems } = await loadMimicCxr({ root: ROOT, log: () => {} });
  assert.deepEqual(problems.map((p) => [p.file, p.line, p.kind, p.reason.split(":")[0]]), [
    [
      META,
      5,
      "malformed",
      "2 fields, expected 12 (dicom_id,subject_id,study_id,Performed" +
      "ProcedureStepDescription,ViewPosition,Rows,Columns,StudyDate,StudyTime,ProcedureCode" +
      "Sequence_CodeMeaning,ViewCodeSequence_CodeMeaning,PatientOrientationCodeSequence_" +
      "CodeMeaning)",
    ],
    [META, 6, "unknown-label", "s53911762"], // all labels blank
    [META, 8, "empty-report", "s57375967"], // no report file
    [META, 9, "missing-image", "s55555555"],
    [META, 10, "unknown-label", "s58000001"], // no chexpert row
    [META, 11, "split-conflict", "s59000002"], // PA in train, AP in test
    [META, 13, "empty-report", "s50000003"], // no FINDINGS:/IMPRESSION: header
  ]);
  await assert.rejects(
    () => loadMimicCxr({ root: ROOT, strict: true, log: () => {} }),
    DatasetError,
  );
});

Deno.test("mimic-cxr: views 'all' keeps laterals; unknown root fails clearly", async () => {
  const { records } = await loadMimicCxr({ root: ROOT, views: "all", log: () => {} });
  const first = records.find((r) => r.id === "s50414267");
  assert.deepEqual(first?.meta?.views, ["PA", "LATERAL"]);
  assert.ok(records.some((r) => r.id === "s56699142"));
  await assert.rejects(
    () => loadMimicCxr({ root: "tests/fixtures/data/nowhere" }),
    /expected mimic-cxr-2\.0\.0-metadata\.csv\[\.gz\]/,
  );
});

Deno.test("chexpertLabel and parseMimicReport rules", () => {
  assert.deepEqual(chexpertLabel({ "No Finding": "1.0" }), { label: 0, findings: [] });
  assert.deepEqual(chexpertLabel({ Edema: "-1.0", Fracture: "0.0" }), {
    label: 1,
    findings: ["Edema (uncertain)"],
  });
  assert.equal(typeof chexpertLabel({ "Support Devices": "1.0" }), "string");
  assert.equal(typeof chexpertLabel({ Edema: "2" }), "string");
  assert.deepEqual(
    parseMimicReport(" FINDINGS AND IMPRESSION:\n A.\n\n CONCLUSION: B.\n NOTIFICATION: C."),
    { findings: "A.", impression: "B." },
  );
});

Deno.test("readMimicLabels feeds loadR2Gen on the MIMIC annotation", async () => {
  const { labels, problems } = await readMimicLabels(join(ROOT, "mimic-cxr-2.0.0-chexpert.csv"));
  assert.deepEqual(labels.get("s53189527")?.label, 1);
  assert.deepEqual(problems.map((p) => [p.line, p.kind]), [[4, "unknown-label"]]);
  const { records } = await loadR2Gen({
    path: "tests/fixtures/data/r2gen/mimic_cxr/annotation.json",
    labels,
    log: () => {},
  });
  assert.deepEqual(records.map((r) => r.label), [0, 0, 1]);
});
