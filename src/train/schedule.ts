/**
 * Learning-rate schedules as open_clip has them: linear warmup, then cosine decay to 0 or
 * constant.
 *
 * @module
 */

/** Schedule kinds (`--lr-scheduler`). */
export type SchedulerKind = "cosine" | "const";

/**
 * Learning rate at 0-based `step` of `totalSteps`: linear warmup over `warmup` steps
 * (`lr·(step+1)/warmup`), then cosine decay to 0 or constant.
 * @example
 * ```ts
 * learningRate("cosine", 1e-3, 10, 100, 0); // 1e-4
 * ```
 */
export function learningRate(
  kind: SchedulerKind,
  baseLr: number,
  warmup: number,
  totalSteps: number,
  step: number,
): number {
  if (step < warmup) return (baseLr * (step + 1)) / warmup;
  if (kind === "const") return baseLr;
  const e = step - warmup, es = totalSteps - warmup;
  return es <= 0 ? baseLr : 0.5 * (1 + Math.cos((Math.PI * e) / es)) * baseLr;
}
