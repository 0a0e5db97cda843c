/**
 * One exact t-SNE iteration on the GPU (`kernels/tsne.wgsl`): forces per column chunk, their sum
 * per point, then the gains-and-momentum update; twin in `src/reference/tsne.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec } from "../gpu/kernel.ts";
import { tsneChunks, type TsneShape, tsneStride } from "../reference/tsne.ts";
import { checkLength } from "./shapes.ts";
import { WORKGROUP_SUM, WORKGROUP_SUM_SIZE } from "./workgroup_sum.ts";

export { tsneChunks, type TsneShape, tsneStride } from "../reference/tsne.ts";

/** Columns per forces chunk: a forces invocation loops over them 4 at a time. */
export const TSNE_CHUNK = 1024;

/** Points per workgroup of the forces and reduce kernels. */
const WG = 64;

const SHAPE = {
  count: "u32",
  stride: "u32",
  chunk: "u32",
  chunks: "u32",
  exaggeration: "f32",
  momentum: "f32",
  lr: "f32",
} as const;

// Every entry point of the file needs `workgroup_sum` defined (the step calls it).
const base = { file: "tsne.wgsl", libraries: [WORKGROUP_SUM], uniforms: SHAPE } as const;

/** `tsne_forces`: per point and column chunk, the partial attractive and repulsive sums and Z. */
export const TSNE_FORCES: KernelSpec = {
  ...base,
  name: "tsne_forces",
  entryPoint: "tsne_forces",
  workgroupSize: [WG],
  bindings: { p: "read", y: "read_write", forces: "read_write", z_parts: "read_write" },
};

/** `tsne_reduce`: the chunks' partial sums added up per point. */
export const TSNE_REDUCE: KernelSpec = {
  ...base,
  name: "tsne_reduce",
  entryPoint: "tsne_reduce",
  workgroupSize: [WG],
  bindings: {
    forces: "read_write",
    z_parts: "read_write",
    totals: "read_write",
    z_totals: "read_write",
  },
};

/** `tsne_step`: one workgroup; the gradient, gains, momentum update and centering of y. */
export const TSNE_STEP: KernelSpec = {
  ...base,
  name: "tsne_step",
  entryPoint: "tsne_step",
  workgroupSize: WORKGROUP_SUM_SIZE,
  bindings: {
    y: "read_write",
    totals: "read_write",
    z_totals: "read_write",
    update: "read_write",
    gains: "read_write",
  },
};

/** The buffers of a t-SNE run on the GPU. */
export interface TsneBuffers {
  /** Joint probabilities, count×{@link tsneStride} (padding columns 0). */
  p: GpuView;
  /** Embedding, count×2 interleaved; updated in place. */
  y: GpuView;
  /** Partial sums, chunks×count×4. */
  forces: GpuView;
  /** Partial sums of w, chunks×count. */
  zParts: GpuView;
  /** Summed forces, count×4. */
  totals: GpuView;
  /** Summed w per point, count. */
  zTotals: GpuView;
  /** Last update, count×2 (zeros at the start). */
  update: GpuView;
  /** Per-coordinate gains, count×2 (ones at the start). */
  gains: GpuView;
}

/**
 * The uniform values of a shape, as {@link tsneIteration}'s dispatches take them (for
 * `gpu.writeUniforms` when the exaggeration or momentum changes).
 * @example
 * ```ts
 * tsneUniforms({ count: 10, chunk: 4, exaggeration: 12, momentum: 0.5, lr: 50 }).chunks; // 3
 * ```
 */
export function tsneUniforms(shape: TsneShape): Record<keyof typeof SHAPE, number> {
  const { count, chunk, exaggeration, momentum, lr } = shape;
  return {
    count,
    stride: tsneStride(count),
    chunk,
    chunks: tsneChunks(shape),
    exaggeration,
    momentum,
    lr,
  };
}

/**
 * Prepares one iteration: forces, reduce, step (three dispatches; encode them as often as there
 * are iterations, rewriting the uniforms where the exaggeration or momentum changes).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const shape = { count: 2, chunk: TSNE_CHUNK, exaggeration: 1, momentum: 0.5, lr: 1 };
 *   const buffers = {
 *     p: gpu.storage(new Float32Array([0, 0.5, 0, 0, 0.5, 0, 0, 0])), // stride 4
 *     y: gpu.storage(new Float32Array([0, 0, 1, 0])),
 *     forces: gpu.storage(8), zParts: gpu.storage(2), totals: gpu.storage(8),
 *     zTotals: gpu.storage(2), update: gpu.storage(4),
 *     gains: gpu.storage(new Float32Array([1, 1, 1, 1])),
 *   };
 *   await gpu.run(tsneIteration(gpu, buffers, shape));
 *   await gpu.read(buffers.y); // the two points pulled together, centered on 0
 * }
 * ```
 */
export function tsneIteration(gpu: GpuContext, b: TsneBuffers, shape: TsneShape): Command[] {
  const { count, chunk } = shape;
  if (!Number.isInteger(count) || count < 2 || !Number.isInteger(chunk) || chunk < 4 || chunk % 4) {
    throw new Error(`tsne: count >= 2 and chunk a multiple of 4, got ${count} and ${chunk}`);
  }
  const chunks = tsneChunks(shape);
  checkLength("tsne", {
    p: [b.p, count * tsneStride(count)],
    y: [b.y, 2 * count],
    forces: [b.forces, 4 * chunks * count],
    zParts: [b.zParts, chunks * count],
    totals: [b.totals, 4 * count],
    zTotals: [b.zTotals, count],
    update: [b.update, 2 * count],
    gains: [b.gains, 2 * count],
  });
  const uniforms = tsneUniforms(shape), groups = Math.ceil(count / WG);
  const { p, y, forces, zParts: z_parts, totals, zTotals: z_totals, update, gains } = b;
  return [
    gpu.prepare(TSNE_FORCES, { uniforms, bindings: { p, y, forces, z_parts } }, [
      Math.ceil(count / (4 * WG)),
      chunks,
    ]),
    gpu.prepare(TSNE_REDUCE, { uniforms, bindings: { forces, z_parts, totals, z_totals } }, groups),
    gpu.prepare(TSNE_STEP, { uniforms, bindings: { y, totals, z_totals, update, gains } }, 1),
  ];
}
