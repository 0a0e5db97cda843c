import assert from "node:assert/strict";
import { isFile } from "../src/data/files.ts";
import { loadIuXrayCsv } from "../src/data/iu_xray_csv.ts";
import { labelFromReportText, labelTable, mentionedFindings } from "../src/data/labels.ts";

const REAL = "../shared/data/iu-xray-reports/dataset.csv";

Deno.test("mentionedFindings: positive mentions, negation before, negation after, clauses", () => {
  const cases: [string, string[]][] = [
    ["Heart size is normal. Lungs are clear.", []],
    ["No focal consolidation, pleural effusion or pneumothorax.", []],
    ["Small left pleural effusion. No pneumothorax.", ["pleural effusion"]],
    ["Small left effusion without pneumothorax.", ["pleural effusion"]],
    ["The heart is enlarged; there is no effusion.", ["cardiomegaly"]],
    ["The heart is not enlarged.", []],
    ["Pneumothorax is not seen.", []],
    ["The right pneumothorax has resolved.", []],
    ["No effusion but a right upper lobe nodule is present.", ["nodule"]],
    ["Patchy airspace opacity in the right lower lobe.", ["consolidation"]],
    ["A small rounded opacity in the left upper zone.", ["nodule"]],
    ["Possible pneumonia at the left base.", ["consolidation"]], // uncertain counts
    ["No change in the calcified right upper lobe nodule.", ["nodule", "calcification"]],
    ["Blunting of the left costophrenic angle.", ["pleural effusion"]],
    ["Moderate cardiomegaly. Bilateral effusions.", ["cardiomegaly", "pleural effusion"]],
  ];
  for (const [text, expected] of cases) assert.deepEqual(mentionedFindings(text), expected, text);
  assert.equal(labelFromReportText("FINDINGS: Clear lungs.\nIMPRESSION: Normal chest."), 0);
  assert.equal(labelFromReportText("IMPRESSION: Cardiomegaly."), 1);
});

Deno.test("labelTable: keyed by record id, findings copied", () => {
  const findings = ["Cardiomegaly"];
  const table = labelTable([{ id: "CXR2", label: 1, findings }]);
  findings.push("changed");
  assert.deepEqual(table.get("CXR2"), { label: 1, findings: ["Cardiomegaly"] });
});

Deno.test({
  name: "labelFromReportText agrees with the MeSH labels of the real IU X-ray reports (>= 90%)",
  ignore: !isFile(REAL),
  async fn() {
    const { records } = await loadIuXrayCsv({ path: REAL, checkImages: false });
    const c = { tp: 0, tn: 0, fp: 0, fn: 0 };
    for (const r of records) {
      const p = labelFromReportText(r.report);
      c[p === 1 ? (r.label === 1 ? "tp" : "fp") : (r.label === 0 ? "tn" : "fn")]++;
    }
    const accuracy = (c.tp + c.tn) / records.length;
    const precision = c.tp / (c.tp + c.fp);
    console.log(
      `text rule vs MeSH on ${records.length} reports: accuracy ${accuracy.toFixed(3)}, ` +
        `abnormal precision ${precision.toFixed(3)}, recall ${(c.tp / (c.tp + c.fn)).toFixed(3)}`,
    );
    assert.ok(accuracy >= 0.9, `accuracy ${accuracy}`);
    assert.ok(precision >= 0.95, `precision ${precision}`);
  },
});
if (!isFile(REAL)) console.warn(`skipping the real-report label test: ${REAL} not found`);
