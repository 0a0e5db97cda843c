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
/** Texels per row of the P texture and the positions texture (`P_WIDTH_LOG2`, `Y_WIDTH_LOG2`). */
const P_WIDTH = 4096, Y_WIDTH = 1024;

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
  bindings: {
    p: "read-texture",
    y_tex: "read-texture",
    y: "read_write",
    forces: "read_write",
    z_parts: "read_write",
  },
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

/** The buffers and textures of a t-SNE run on the GPU. */
export interface TsneBuffers {
  /** Joint probabilities, from {@link tsneAffinityTexture}. */
  p: GPUTextureView;
  /**
   * Embedding, count×2 interleaved, updated in place; {@link tsnePositionsLength} elements (the
   * copy into `yTexture` moves whole texture rows).
   */
  y: GpuView;
  /** The embedding as the forces read it, from {@link tsnePositionsTexture}. */
  yTexture: GPUTexture;
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

/** Power of two at least n. */
function pow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
}

/**
 * P as the forces kernel reads it: an rgba32float texture whose texel t = i·stride/4 + q holds
 * `p[i·stride + 4q …+3]`, rows of 4,096 texels (power-of-two sides: llvmpipe compiles a variant
 * per texture size class). `p` is count×{@link tsneStride}, padding columns 0.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) tsneAffinityTexture(gpu, new Float32Array([0, 0.5, 0, 0, 0.5, 0, 0, 0]), 2);
 * ```
 */
export function tsneAffinityTexture(
  gpu: GpuContext,
  p: Float32Array<ArrayBuffer>,
  count: number,
): GPUTextureView {
  const texels = (count * tsneStride(count)) / 4;
  if (p.length !== 4 * texels) {
    throw new RangeError(
      `tsne: p has ${p.length} elements, expected count × stride = ${4 * texels}`,
    );
  }
  const rows = Math.ceil(texels / P_WIDTH),
    height = pow2(rows),
    max = gpu.limits.maxTextureDimension2D;
  if (height > max) {
    throw new RangeError(
      `tsne: ${count} points need a ${P_WIDTH}x${height} P texture; the device allows ${max}`,
    );
  }
  const texture = gpu.texture({
    label: "tsne p",
    size: [P_WIDTH, height],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
  });
  const full = Math.floor(texels / P_WIDTH), bytesPerRow = P_WIDTH * 16;
  const write = (row: number, width: number, rowCount: number) =>
    gpu.device.queue.writeTexture(
      { texture, origin: [0, row] },
      p.subarray(row * P_WIDTH * 4),
      { bytesPerRow },
      [width, rowCount],
    );
  if (full > 0) write(0, P_WIDTH, full);
  if (texels > full * P_WIDTH) write(full, texels - full * P_WIDTH, 1);
  return texture.createView();
}

/**
 * Elements of the embedding buffer: 2·count rounded up to whole rows of the positions texture.
 * @example
 * ```ts
 * tsnePositionsLength(5000); // 12288: 3 rows of 1,024 texels
 * ```
 */
export function tsnePositionsLength(count: number): number {
  return 4 * Y_WIDTH * Math.ceil(count / 2 / Y_WIDTH);
}

/**
 * The texture the forces read the embedding from (texel k = points 2k and 2k + 1), filled from
 * the embedding buffer at the start of every {@link tsneIteration}.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) tsnePositionsTexture(gpu, 5000).height; // 4
 * ```
 */
export function tsnePositionsTexture(gpu: GpuContext, count: number): GPUTexture {
  return gpu.texture({
    label: "tsne y",
    size: [Y_WIDTH, pow2(tsnePositionsLength(count) / 4 / Y_WIDTH)],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
  });
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
 * Prepares one iteration: the embedding copied into its texture, then forces, reduce, step (three
 * dispatches; encode them as often as there
 * are iterations, rewriting the uniforms where the exaggeration or momentum changes).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const shape = { count: 2, chunk: TSNE_CHUNK, exaggeration: 1, momentum: 0.5, lr: 1 };
 *   const y = new Float32Array(tsnePositionsLength(2));
 *   y.set([0, 0, 1, 0]);
 *   const buffers = {
 *     p: tsneAffinityTexture(gpu, new Float32Array([0, 0.5, 0, 0, 0.5, 0, 0, 0]), 2), // stride 4
 *     y: gpu.storage(y),
 *     yTexture: tsnePositionsTexture(gpu, 2),
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
    y: [b.y, tsnePositionsLength(count)],
    forces: [b.forces, 4 * chunks * count],
    zParts: [b.zParts, chunks * count],
    totals: [b.totals, 4 * count],
    zTotals: [b.zTotals, count],
    update: [b.update, 2 * count],
    gains: [b.gains, 2 * count],
  });
  const uniforms = tsneUniforms(shape), groups = Math.ceil(count / WG);
  const { p, y, forces, zParts: z_parts, totals, zTotals: z_totals, update, gains } = b;
  const rows = tsnePositionsLength(count) / 4 / Y_WIDTH, y_tex = b.yTexture.createView();
  const upload = { buffer: y.buffer, offset: y.offset, bytesPerRow: Y_WIDTH * 16 };
  return [
    { upload: { ...upload, texture: b.yTexture, width: Y_WIDTH, height: rows } },
    gpu.prepare(TSNE_FORCES, { uniforms, bindings: { p, y_tex, y, forces, z_parts } }, [
      Math.ceil(count / (4 * WG)),
      chunks,
    ]),
    gpu.prepare(TSNE_REDUCE, { uniforms, bindings: { forces, z_parts, totals, z_totals } }, groups),
    gpu.prepare(TSNE_STEP, { uniforms, bindings: { y, totals, z_totals, update, gains } }, 1),
  ];
}
