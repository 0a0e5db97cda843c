/**
 * A SYNTHETIC demo set of chest-radiograph-like images with matching reports, for demos, smoke
 * tests and benchmarks where no real data may be used. It is not medical data: every id and
 * file name starts with `synthetic-`, and every record has `meta.synthetic = true` and
 * `meta.source = "synthetic"` (the report text itself reads like a real report).
 *
 * Deterministic: the same `seed`, `count`, `size` and options give byte-identical PNG files and
 * identical records, whatever the number of workers; `synthetic.json` in the folder records
 * them, so a folder is reused only for the same options. Each patient's anatomy comes from a
 * generator seeded by (seed, patient), each study's findings, report and texture from one seeded
 * by (seed, study).
 *
 * @module
 */

import { join } from "node:path";
import { encodePng, Image } from "image-js";
import { Rng } from "../util/rng.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { loadManifest, RECORD_COLUMNS, writeManifest } from "./manifest.ts";
import type { LoadResult, StudyRecord } from "./record.ts";
import { assignPatientSplits, type SplitFractions } from "./splits.ts";
import { renderSyntheticCxr } from "./synthetic_render.ts";
import { writeSyntheticReport } from "./synthetic_report.ts";
import {
  sampleAnatomy,
  sampleStudy,
  type SyntheticFinding,
  type SyntheticStudy,
} from "./synthetic_study.ts";

/** What to generate and where. */
export interface SyntheticOptions {
  /** Number of studies (one image each). */
  count: number;
  /** Seed of everything. */
  seed: number;
  /** Directory for `synthetic-NNNNNN.png` and `manifest.jsonl` (created if missing). */
  outDir: string;
  /** Image side in pixels; default 224. */
  size?: number;
  /** Share of normal studies; default 0.45. */
  normalRate?: number;
  /** Patient-level split fractions; default 0.8 / 0.1 / 0.1. */
  fractions?: SplitFractions;
  /** Worker threads rendering and encoding; default 2 for 200+ images, else 0 (this thread). */
  workers?: number;
}

/** One image to render and write: what a worker receives. */
export interface SyntheticJob {
  /** The study to draw. */
  study: SyntheticStudy;
  /** Image side. */
  size: number;
  /** Output PNG path. */
  path: string;
}

/**
 * Renders and encodes one study as PNG bytes (8-bit grayscale).
 * @example
 * ```ts
 * import { Rng } from "../util/rng.ts";
 * import { sampleAnatomy, sampleStudy } from "./synthetic_study.ts";
 * const study = sampleStudy(new Rng(2), sampleAnatomy(new Rng(1)));
 * const png = syntheticPng(study, 64); // bytes of a 64×64 grayscale PNG
 * ```
 */
export function syntheticPng(study: SyntheticStudy, size: number): Uint8Array {
  const data = renderSyntheticCxr(study, size);
  return encodePng(new Image(size, size, { colorModel: "GREY", data }));
}

/**
 * Describes a finding in words for the record's metadata, e.g. `pleural effusion: left, small`.
 * @example
 * ```ts
 * describeFinding({ kind: "nodule", side: "right", zone: "upper", sizeMm: 12 });
 * // "nodule: right upper, 12 mm"
 * ```
 */
export function describeFinding(f: SyntheticFinding): string {
  switch (f.kind) {
    case "cardiomegaly":
      return `cardiomegaly: ${f.severity}`;
    case "pleural effusion":
    case "pneumothorax":
      return `${f.kind}: ${f.side}, ${f.size}`;
    case "consolidation":
      return `consolidation: ${f.side} ${f.zone}`;
    case "nodule":
      return `nodule: ${f.side} ${f.zone}, ${f.sizeMm} mm`;
  }
}

/**
 * Generates `count` synthetic studies: PNG images and `manifest.jsonl` (readable with
 * `loadManifest({ path, ...RECORD_COLUMNS })`) in `outDir`, and returns the records, with
 * patient-level splits. Labels: normal (0) iff no finding is drawn. About 20% of the patients
 * have two or more studies.
 * @example
 * ```ts
 * const outDir = await Deno.makeTempDir();
 * const { records } = await generateSyntheticCxr({ count: 8, seed: 1, outDir, size: 32 });
 * records[0].imagePaths; // [`${outDir}/synthetic-000001.png`]
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function generateSyntheticCxr(opts: SyntheticOptions): Promise<LoadResult> {
  const { count, seed, outDir } = opts;
  const size = opts.size ?? 224;
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be >= 1, got ${count}`);
  if (!Number.isInteger(size) || size < 32) throw new Error(`size must be >= 32, got ${size}`);
  await Deno.mkdir(outDir, { recursive: true });
  // Until the new key is written, the folder claims nothing (an interrupted run is not reused).
  await Deno.remove(join(outDir, SYNTHETIC_KEY_FILE)).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  const digits = Math.max(6, String(count).length);
  const patients = Math.max(1, Math.round(count * 0.8));
  const pad = (n: number) => String(n).padStart(digits, "0");
  const patientRng = new Rng(mix(seed, 0, 1));
  const anatomies = new Map<number, ReturnType<typeof sampleAnatomy>>();
  const records: StudyRecord[] = [];
  const jobs: SyntheticJob[] = [];
  for (let i = 0; i < count; i++) {
    const patient = i < patients ? i : patientRng.int(patients);
    if (!anatomies.has(patient)) {
      anatomies.set(patient, sampleAnatomy(new Rng(mix(seed, patient, 2))));
    }
    const rng = new Rng(mix(seed, i, 3));
    const study = sampleStudy(rng, anatomies.get(patient)!, opts.normalRate);
    const id = `synthetic-${pad(i + 1)}`;
    const path = join(outDir, `${id}.png`);
    jobs.push({ study, size, path });
    records.push({
      id,
      patientId: `synthetic-patient-${pad(patient + 1)}`,
      split: null,
      imagePaths: [path],
      report: writeSyntheticReport(study.findings, rng),
      label: study.findings.length === 0 ? 0 : 1,
      findings: study.findings.map((f) => f.kind),
      meta: {
        source: "synthetic",
        synthetic: true,
        seed,
        details: study.findings.map(describeFinding),
      },
    });
  }
  await renderAll(jobs, opts.workers ?? (count >= 200 ? 2 : 0));
  const split = assignPatientSplits(records, { seed, fractions: opts.fractions });
  await writeManifest(join(outDir, "manifest.jsonl"), split.records);
  await writeFileAtomic(
    join(outDir, SYNTHETIC_KEY_FILE),
    new TextEncoder().encode(syntheticKey(opts)),
  );
  return split;
}

/** File in the output folder that records what the set was generated with. */
export const SYNTHETIC_KEY_FILE = "synthetic.json";

/** What decides a set's bytes: every option but the folder and the number of workers. */
function syntheticKey(opts: SyntheticOptions): string {
  const { count, seed, size = 224, normalRate = null, fractions = null } = opts;
  return JSON.stringify({ count, seed, size, normalRate, fractions }) + "\n";
}

/**
 * The set in `opts.outDir` when it was generated with the same options (count, seed, size, …:
 * `synthetic.json` says), else a newly generated one in its place.
 * @example
 * ```ts
 * const outDir = await Deno.makeTempDir();
 * const opts = { count: 8, seed: 1, outDir, size: 32 };
 * await loadOrGenerateSyntheticCxr(opts); // generates the set
 * const { records } = await loadOrGenerateSyntheticCxr(opts); // same options: reads it back
 * records.length; // 8
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function loadOrGenerateSyntheticCxr(opts: SyntheticOptions): Promise<LoadResult> {
  const key = await Deno.readTextFile(join(opts.outDir, SYNTHETIC_KEY_FILE)).catch(() => null);
  if (key === syntheticKey(opts)) {
    const manifest = join(opts.outDir, "manifest.jsonl");
    const existing = await loadManifest({ path: manifest, ...RECORD_COLUMNS, strict: true })
      .catch(() => null);
    if (existing?.records.length === opts.count) return existing;
  }
  return await generateSyntheticCxr(opts);
}

/** Renders and writes the jobs, here or spread over worker threads (interleaved). */
async function renderAll(jobs: SyntheticJob[], workers: number): Promise<void> {
  if (workers <= 1) {
    for (const job of jobs) await Deno.writeFile(job.path, syntheticPng(job.study, job.size));
    return;
  }
  const url = new URL("./synthetic_worker.ts", import.meta.url).href;
  await Promise.all(Array.from({ length: workers }, (_, w) => {
    const worker = new Worker(url, { type: "module" });
    return new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<{ error?: string }>) => {
        worker.terminate();
        if (e.data.error) reject(new Error(`synthetic worker ${w}: ${e.data.error}`));
        else resolve();
      };
      worker.onerror = (e) => {
        e.preventDefault();
        worker.terminate();
        reject(new Error(`synthetic worker ${w}: ${e.message}`));
      };
      worker.postMessage(jobs.filter((_, i) => i % workers === w));
    });
  }));
}

/** Mixes a seed, an index and a stream tag into one u32 seed. */
function mix(seed: number, index: number, stream: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(stream, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}
