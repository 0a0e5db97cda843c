/**
 * Throughput next to `Deno.bench` times: each registered bench records its own wall times, and
 * when the bench process ends a table prints GFLOP/s, GB/s or items/s per bench, grouped, with
 * the ratio to the group's baseline.
 *
 * @module
 */

import { type Command, type GpuContext, tryGetGpu } from "../../src/gpu/context.ts";

/** Work done by one call of a bench function. */
export interface Work {
  /** Floating-point operations per call. */
  flops?: number;
  /** Bytes moved per call (read + written, counted once). */
  bytes?: number;
  /** Items processed per call (images, reports, …), named by `unit`: reported as unit/s. */
  items?: number;
  /** Name of one item, e.g. "images". */
  unit?: string;
}

/** A bench registered with {@link benchThroughput}. */
export interface ThroughputBench {
  /** Bench name, unique in the file. */
  name: string;
  /** Deno.bench group. */
  group: string;
  /** True for the group's baseline (CPU twin, naive kernel or peer). */
  baseline?: boolean;
  /** Work per call. */
  work: Work;
  /** The measured function. */
  fn: () => Promise<void> | void;
  /** Skip with this reason (e.g. no GPU). */
  ignore?: string | false;
  /** Iterations and warmups (Deno.bench's `n` and `warmup`), for slow calls. */
  n?: number;
  warmup?: number;
}

const rows: { name: string; group: string; baseline: boolean; work: Work; times: number[] }[] = [];

/**
 * Registers a `Deno.bench` and records its times for the throughput table.
 * @example
 * ```ts
 * benchThroughput({ name: "twin", group: "axpy", baseline: true, work: { flops: 2e6 }, fn: () => {} });
 * ```
 */
export function benchThroughput(b: ThroughputBench): void {
  if (b.ignore) console.warn(`skipping bench "${b.name}": ${b.ignore}`);
  const row = { name: b.name, group: b.group, baseline: !!b.baseline, work: b.work, times: [] };
  if (!b.ignore) rows.push(row);
  Deno.bench({
    name: b.name,
    group: b.group,
    baseline: b.baseline,
    ignore: !!b.ignore,
    n: b.n,
    warmup: b.warmup,
    fn: async () => {
      const t0 = performance.now();
      await b.fn();
      (row.times as number[]).push(performance.now() - t0);
    },
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Throughput of `r` over the baseline's: work per second, by the first measure both declare
 * (flops, bytes, items), else calls per second.
 */
function speedup(r: (typeof rows)[number], base: (typeof rows)[number]): number {
  const rate = (x: (typeof rows)[number], key: "flops" | "bytes" | "items") =>
    (x.work[key] ?? 0) / median(x.times);
  for (const key of ["flops", "bytes", "items"] as const) {
    if (r.work[key] && base.work[key]) return rate(r, key) / rate(base, key);
  }
  return median(base.times) / median(r.times);
}

/** Formats the throughput table (median time per call). */
export function throughputTable(): string {
  const lines = ["", "throughput (median of the calls Deno.bench made):"];
  const groups = [...new Set(rows.map((r) => r.group))];
  for (const g of groups) {
    const members = rows.filter((r) => r.group === g && r.times.length > 0);
    const base = members.find((r) => r.baseline);
    lines.push(`  ${g}`);
    for (const r of members) {
      const ms = median(r.times);
      const parts = [`${ms.toFixed(3).padStart(10)} ms`];
      if (r.work.flops) parts.push(`${(r.work.flops / ms / 1e6).toFixed(2).padStart(8)} GFLOP/s`);
      if (r.work.bytes) parts.push(`${(r.work.bytes / ms / 1e6).toFixed(2).padStart(8)} GB/s`);
      if (r.work.items) {
        parts.push(
          `${(r.work.items / ms * 1e3).toFixed(1).padStart(9)} ${r.work.unit ?? "items"}/s`,
        );
      }
      if (base && base !== r) parts.push(`${speedup(r, base).toFixed(2)}x baseline`);
      lines.push(`    ${r.name.padEnd(44)} ${parts.join("  ")}`);
    }
  }
  return lines.join("\n");
}

globalThis.addEventListener("unload", () => {
  if (rows.some((r) => r.times.length > 0)) console.log(throughputTable());
});

/** The process's GPU, or null when no adapter exists (GPU benches are then skipped). */
const gpu = await tryGetGpu();

/**
 * Registers a GPU bench: `build` prepares the commands of one repetition once; each call
 * submits `reps` repetitions in one command buffer and waits (readback costs a fixed ~10 ms on a
 * software adapter, so many per submit). `work` is per repetition. Without an adapter the bench
 * is registered as skipped, with the reason.
 * @example
 * ```ts
 * import { geluForward } from "../../src/ops/gelu.ts";
 * const length = 1 << 20;
 * benchGpu({
 *   name: "GPU forward",
 *   group: "gelu",
 *   reps: 10,
 *   work: { bytes: 8 * length }, // read x, write y
 *   build: (gpu) => geluForward(gpu, gpu.storage(length), gpu.storage(length), { length }),
 * });
 * ```
 */
export function benchGpu(b: {
  name: string;
  group: string;
  reps: number;
  work: Work;
  build: (gpu: GpuContext) => Command[];
}): void {
  const name = `${b.name} (${b.reps} per submit)`;
  if (!gpu) {
    benchThroughput({ name, group: b.group, work: {}, fn: () => {}, ignore: "no WebGPU adapter" });
    return;
  }
  const one = b.build(gpu);
  const commands = Array.from({ length: b.reps }, () => one).flat();
  const scale = (v?: number) => (v === undefined ? undefined : v * b.reps);
  benchThroughput({
    name,
    group: b.group,
    work: {
      ...b.work,
      flops: scale(b.work.flops),
      bytes: scale(b.work.bytes),
      items: scale(b.work.items),
    },
    fn: () => gpu.run(commands),
  });
}
