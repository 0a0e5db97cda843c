import assert from "node:assert/strict";
import { join } from "node:path";
import { isFile, parseCsv } from "../src/data/files.ts";
import { loadIuXrayCsv } from "../src/data/iu_xray_csv.ts";
import { meshLabel } from "../src/data/labels.ts";
import { DatasetError, validateRecord } from "../src/data/record.ts";

const FIXTURE = "tests/fixtures/data/iu_xray_csv/dataset.csv";
const REAL = "../shared/data/iu-xray-reports/dataset.csv";

Deno.test("iu-xray csv: quotes, commas and newlines in fields; labels from mesh_labels", async () => {
  const logs: string[] = [];
  const { records } = await loadIuXrayCsv({ path: FIXTURE, log: (m) => logs.push(m) });
  assert.deepEqual(records.map((r) => [r.id, r.label]), [
    ["CXR1", 0],
    ["CXR10", 1],
    ["CXR11", 0],
    ["CXR16", 1],
  ]);
  const [first, second, third, last] = records;
  assert.equal(
    first.report,
    'FINDINGS: The heart is "normal" in size, the mediastinum is unremarkable. No pleural ' +
      "effusion, pneumothorax or focal consolidation.\nIMPRESSION: Normal chest x-XXXX.",
  );
  assert.deepEqual(first.imagePaths, [
    join("tests/fixtures/data/iu_xray_csv/data/images/CXR1_1_IM-0001-3001.png"),
  ]);
  assert.deepEqual(second.findings, [
    "Cardiomegaly/mild",
    "Pleural Effusion/left/small",
    "Pulmonary Atelectasis/left",
  ]);
  assert.equal(
    second.report,
    "FINDINGS: Mild cardiomegaly. Small left pleural effusion, with adjacent atelectasis.\n" +
      "IMPRESSION: 1. Cardiomegaly. 2. Small left effusion.",
  );
  assert.equal(third.report, "IMPRESSION: No acute cardiopulmonary abnormality.");
  assert.ok(last.report.includes('opacity, "patchy". No pneumothorax.'));
  for (const r of records) assert.deepEqual(validateRecord(r), []);
  assert.equal(logs.length, 1);
  assert.ok(logs[0].startsWith("iu-xray-csv: kept 4 of 10 rows; skipped 6"), logs[0]);
});

Deno.test("iu-xray csv: bad rows are problems on their own line (multi-line rows counted)", async () => {
  const { problems } = await loadIuXrayCsv({ path: FIXTURE, log: () => {} });
  assert.deepEqual(problems.map((p) => [p.line, p.kind]), [
    [10, "malformed"], // 3 fields instead of 5
    [7, "empty-report"],
    [8, "unknown-label"], // empty mesh_labels
    [9, "missing-image"],
    [11, "duplicate"],
    [12, "unknown-label"], // normal|Kyphosis
  ]);
  assert.ok(problems.every((p) => p.file === FIXTURE));
  assert.match(problems[0].reason, /3 fields, expected 5/);
  assert.match(problems[4].reason, /CXR1: duplicate report_id \(first on line 2\)/);
  await assert.rejects(() => loadIuXrayCsv({ path: FIXTURE, strict: true }), DatasetError);
});

Deno.test("csv: an unclosed quote or a missing column fails naming the file and line", () => {
  assert.throws(
    () => parseCsv("x.csv", 'a,b\n1,2\n3,"oops\n4,5\n'),
    (e) =>
      e instanceof DatasetError && /x\.csv:4: cannot parse CSV: Quote Not Closed/.test(e.message),
  );
  assert.throws(
    () => parseCsv("y.csv", "a,b\n1,2\n", ["a", "c"]),
    (e) => e instanceof DatasetError && /y\.csv:1: missing column\(s\) c/.test(e.message),
  );
});

Deno.test("meshLabel: exactly normal, abnormal terms, none, mixed", () => {
  assert.deepEqual(meshLabel("normal"), { label: 0, findings: [] });
  assert.deepEqual(meshLabel(" Cardiomegaly | Kyphosis "), {
    label: 1,
    findings: ["Cardiomegaly", "Kyphosis"],
  });
  assert.equal(typeof meshLabel(""), "string");
  assert.equal(typeof meshLabel("normal|Kyphosis"), "string");
  assert.deepEqual(meshLabel("Normal"), { label: 1, findings: ["Normal"] }); // exact match only
});

Deno.test({
  name: "iu-xray csv: the real dataset.csv from ../shared/data (3,826 reports)",
  ignore: !isFile(REAL),
  async fn() {
    const { records, problems } = await loadIuXrayCsv({ path: REAL, checkImages: false });
    assert.deepEqual(problems, []);
    assert.equal(records.length, 3826);
    assert.equal(records.filter((r) => r.label === 0).length, 1354);
    assert.equal(records.filter((r) => r.label === 1).length, 2472);
    assert.equal(new Set(records.map((r) => r.id)).size, 3826);
    assert.equal(records.filter((r) => !r.report.includes("FINDINGS:")).length, 489);
    for (const r of records) assert.deepEqual(validateRecord(r), []);
    assert.ok(records[0].imagePaths[0].endsWith("data/images/CXR1_1_IM-0001-3001.png"));
  },
});
if (!isFile(REAL)) console.warn(`skipping the real-CSV test: ${REAL} not found`);
