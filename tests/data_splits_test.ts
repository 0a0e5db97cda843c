import assert from "node:assert/strict";
import { patientSplitLeaks, type StudyRecord } from "../src/data/record.ts";
import { assignPatientSplits, quotas } from "../src/data/splits.ts";
import { Rng } from "../src/util/rng.ts";

function makeRecords(n: number, seed: number): StudyRecord[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    patientId: `p${rng.int(Math.ceil(n * 0.6))}`, // some patients have several studies
    split: null,
    imagePaths: [`s${i}.png`],
    report: "x",
    label: rng.uniform() < 0.4 ? 0 : 1,
    findings: [],
  }));
}

Deno.test("assignPatientSplits: deterministic, order-independent, no patient in two splits", () => {
  const records = makeRecords(500, 1);
  const a = assignPatientSplits(records, { seed: 7 });
  const b = assignPatientSplits([...records].reverse(), { seed: 7 });
  const c = assignPatientSplits(records, { seed: 8 });
  assert.deepEqual(a.problems, []);
  const splitOf = (r: { records: StudyRecord[] }) =>
    Object.fromEntries(r.records.map((x) => [x.id, x.split]));
  assert.deepEqual(splitOf(a), splitOf(b));
  assert.notDeepEqual(splitOf(a), splitOf(c));
  assert.deepEqual(patientSplitLeaks(a.records), []);
  assert.deepEqual(a.records.map((r) => r.id), records.map((r) => r.id));
  const patients = (split: string) =>
    new Set(a.records.filter((r) => r.split === split).map((r) => r.patientId)).size;
  const total = new Set(records.map((r) => r.patientId)).size;
  for (const [split, f] of [["train", 0.8], ["validation", 0.1], ["test", 0.1]] as const) {
    assert.ok(
      Math.abs(patients(split) / total - f) < 0.02,
      `${split}: ${patients(split)}/${total}`,
    );
  }
  for (const split of ["train", "validation", "test"]) {
    const labels = new Set(a.records.filter((r) => r.split === split).map((r) => r.label));
    assert.equal(labels.size, 2, `${split} has both classes (stratified)`);
  }
});

Deno.test("assignPatientSplits: keeps existing splits, fills siblings, reports conflicts", () => {
  const base = makeRecords(4, 2).map((r, i) => ({ ...r, patientId: ["a", "a", "b", "b"][i] }));
  base[0].split = "test";
  base[2].split = "train";
  base[3].split = "validation";
  const logs: string[] = [];
  const { records, problems } = assignPatientSplits(base, { seed: 1, log: (m) => logs.push(m) });
  assert.deepEqual(records.map((r) => [r.id, r.split]), [["s0", "test"], ["s1", "test"]]);
  assert.deepEqual(problems.map((p) => p.kind), ["split-conflict"]);
  assert.match(problems[0].reason, /patient b is already in train and validation \(s2, s3\)/);
  assert.equal(logs.length, 1);
  assert.throws(() => assignPatientSplits(base, { seed: 1, strict: true }), /split-conflict|b is/);
  const over = assignPatientSplits(base, { seed: 1, overwrite: true, fractions: DEFAULT_TEST });
  assert.deepEqual(over.problems, []);
  assert.ok(over.records.every((r) => r.split === "test"));
});

const DEFAULT_TEST = { train: 0, validation: 0, test: 1 };

Deno.test("quotas: largest remainder, sums to n, rejects bad fractions", () => {
  assert.deepEqual(quotas(10, { train: 0.8, validation: 0.1, test: 0.1 }), [8, 1, 1]);
  assert.deepEqual(quotas(3, { train: 0.8, validation: 0.1, test: 0.1 }), [3, 0, 0]);
  assert.deepEqual(quotas(7, { train: 1, validation: 1, test: 1 }), [3, 2, 2]);
  assert.deepEqual(quotas(0, { train: 8, validation: 1, test: 1 }), [0, 0, 0]);
  assert.throws(() => quotas(5, { train: -1, validation: 1, test: 1 }), /fractions must be >= 0/);
  assert.throws(() => quotas(5, { train: 0, validation: 0, test: 0 }), /positive sum/);
});
