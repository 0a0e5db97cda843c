import assert from "node:assert/strict";
import { join } from "node:path";
import { decodePng } from "image-js";
import { mentionedFindings } from "../src/data/labels.ts";
import { loadManifest, RECORD_COLUMNS } from "../src/data/manifest.ts";
import { patientSplitLeaks, validateRecord } from "../src/data/record.ts";
import { loadDataset } from "../src/data/load_dataset.ts";
import { generateSyntheticCxr } from "../src/data/synthetic_cxr.ts";
import { renderSyntheticCxr } from "../src/data/synthetic_render.ts";
import { writeSyntheticReport } from "../src/data/synthetic_report.ts";
import {
  sampleAnatomy,
  sampleStudy,
  type SyntheticFinding,
  type SyntheticStudy,
} from "../src/data/synthetic_study.ts";
import { Rng } from "../src/util/rng.ts";

async function files(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) out.set(e.name, await Deno.readFile(join(dir, e.name)));
  return out;
}

Deno.test("synthetic: same seed gives identical bytes, here or in workers; another seed differs", async () => {
  const root = await Deno.makeTempDir({ prefix: "synthetic-test-" });
  try {
    const run = (name: string, seed: number, workers: number) =>
      generateSyntheticCxr({ count: 24, seed, outDir: join(root, name), size: 96, workers });
    const a = await run("a", 5, 0);
    await run("b", 5, 2);
    await run("c", 6, 0);
    const [fa, fb, fc] = await Promise.all(["a", "b", "c"].map((n) => files(join(root, n))));
    assert.equal(fa.size, 26); // 24 PNGs, manifest.jsonl and synthetic.json
    assert.deepEqual(fa, fb);
    assert.notDeepEqual(fa.get("synthetic-000001.png"), fc.get("synthetic-000001.png"));

    const png = decodePng(fa.get("synthetic-000001.png")!);
    assert.deepEqual([png.width, png.height, png.colorModel], [96, 96, "GREY"]);
    for (const r of a.records) {
      assert.deepEqual(validateRecord(r), []);
      assert.match(r.id, /^synthetic-\d{6}$/);
      assert.match(r.patientId, /^synthetic-patient-\d{6}$/);
      assert.match(r.imagePaths[0], /synthetic-\d{6}\.png$/);
      assert.deepEqual([r.meta?.source, r.meta?.synthetic], ["synthetic", true]);
      assert.equal(r.label, r.findings.length > 0 ? 1 : 0);
    }
    assert.deepEqual(a.problems, []);
    assert.deepEqual(patientSplitLeaks(a.records), []);
    assert.ok(a.records.every((r) => r.split !== null));
    const again = await loadManifest({
      path: join(root, "a", "manifest.jsonl"),
      ...RECORD_COLUMNS,
    });
    assert.deepEqual(again.records, a.records);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the demo set is reused while count and seed stay, regenerated when either changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "synthetic-test-" });
  const load = (seed: number, syntheticCount = 6) =>
    loadDataset({ dataset: "synthetic", dataDir: dir, seed, syntheticCount });
  const first = await load(1);
  // Mark the folder: a reuse reads the mark back, a regeneration overwrites it.
  const manifest = join(dir, "manifest.jsonl");
  const lines = (await Deno.readTextFile(manifest)).trim().split("\n").map((l) => JSON.parse(l));
  lines[0].report = "Marked by the test.";
  await Deno.writeTextFile(manifest, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  assert.equal((await load(1)).records[0].report, "Marked by the test.");
  const other = await load(2);
  assert.ok(other.records.every((r) => r.meta?.seed === 2));
  assert.notDeepEqual(other.records.map((r) => r.report), first.records.map((r) => r.report));
  const back = await load(1);
  assert.deepEqual(back.records.map((r) => r.report), first.records.map((r) => r.report));
  assert.equal((await load(1, 7)).records.length, 7);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("synthetic reports mention exactly the drawn findings, in varied words", () => {
  const rng = new Rng(11);
  const reports = new Set<string>();
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const study = sampleStudy(rng, sampleAnatomy(rng));
    const report = writeSyntheticReport(study.findings, rng);
    const kinds = study.findings.map((f) => f.kind);
    assert.deepEqual(mentionedFindings(report), kinds, report);
    assert.match(report, /^FINDINGS: .+\nIMPRESSION: .+$/);
    for (const f of study.findings) {
      if ("side" in f && f.side !== "bilateral") {
        const text = report.toLowerCase();
        assert.ok(text.includes(f.side) || (f.side === "left" && text.includes("lingula")), report);
      }
    }
    reports.add(report);
    for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  assert.ok(reports.size > 2000, `${reports.size} distinct reports of 3000`);
  for (const [kind, n] of counts) assert.ok(n > 300, `${kind}: ${n}`);
});

/** Mean absolute pixel difference a finding makes in the image's left and right halves. */
function change(finding: SyntheticFinding): { left: number; right: number } {
  const rng = new Rng(3);
  const base: SyntheticStudy = { ...sampleStudy(rng, sampleAnatomy(rng)), findings: [] };
  const size = 128;
  const a = renderSyntheticCxr(base, size);
  const b = renderSyntheticCxr({ ...base, findings: [finding] }, size);
  const sums = { left: 0, right: 0 };
  for (let p = 0; p < a.length; p++) {
    sums[p % size < size / 2 ? "left" : "right"] += Math.abs(a[p] - b[p]) / (a.length / 2);
  }
  return sums;
}

Deno.test("synthetic findings change the image on the stated side (patient's right = image left)", () => {
  const sided: SyntheticFinding[] = [
    { kind: "pleural effusion", side: "right", size: "moderate" },
    { kind: "consolidation", side: "left", zone: "lower" },
    { kind: "nodule", side: "right", zone: "upper", sizeMm: 20 },
    { kind: "pneumothorax", side: "left", size: "large" },
  ];
  for (const f of sided) {
    const { left, right } = change(f);
    const [near, far] = "side" in f && f.side === "right" ? [left, right] : [right, left];
    assert.ok(near > 0.05 && near > 10 * far, `${f.kind} ${JSON.stringify({ left, right })}`);
  }
  const heart = change({ kind: "cardiomegaly", severity: "marked" });
  assert.ok(heart.right > heart.left && heart.right > 1, JSON.stringify(heart)); // heart grows to the patient's left
});
