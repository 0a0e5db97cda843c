/**
 * Linear layer `y = x·W + b` (W stored `[inDim, outDim]` row-major) and its accumulating backward
 * on the GPU (`kernels/linear.wgsl`); twin in `src/reference/linear.ts`.
 *
 * Every product is one GEMM `C (=|+=) A·B` ({@link gemm}) whose operands are first copied into
 * rgba32float textures (texel (q, r) = S[r, 4q..4q+3] of the operand's row-major source S, which
 * is the operand or its transpose) that the GEMM reads as read-only storage textures. An op is a
 * few commands: fill A's texture, fill B's, then one GEMM dispatch per chunk (one chunk unless a
 * side exceeds the device's texture size). A texture is filled by a buffer-to-texture copy when
 * the source's rows are 256-byte multiples, else by a pack kernel. The textures are created when
 * the commands are prepared and live as long as the commands.
 *
 * Why, measured on Mesa 22.3's llvmpipe (LLVM 15; 2 shared cores whose speed varied up to 2x with
 * the machine's load, so kernel changes were judged in interleaved A/B rounds in one process).
 * llvmpipe runs a workgroup's invocations as the lanes of CPU vectors: 8 lanes of AVX2, or 16 of
 * AVX-512 where src/gpu/software_vectors.ts asked for 512-bit vectors. Per 8-lane vec4 load
 * in a loop, one core: a read-only rgba32float storage-texture load 12 ns (a sixteen-byte load per
 * lane and a transpose), a uniform-buffer load 21 ns (32 scalar loads, each lane's address moved
 * out of the vector), a sampled-texture `textureLoad` 27 ns (a called function: every live
 * register spilled around it), a storage-buffer load 220 ns (a loop over the lanes with a branch
 * each). The addresses of A are the same in every lane, but llvmpipe cannot prove it inside a loop
 * and loads them in every lane: where the device has subgroups (`gpu.info.subgroupSize` 8 or 16)
 * the lanes split the 16 shared texels between them and `subgroupBroadcast` hands them round
 * (kernels/linear_rows_subgroup8.wgsl, linear_rows_subgroup16.wgsl; linear_rows_lanes.wgsl is the
 * variant without).
 *
 * At 4096x512x512 (bench/linear_bench.ts, paired rounds with numpy): A through 64 KiB uniform
 * windows, B a sampled texture, 16 x 16 tiles: 10.5-11.7% of numpy's GFLOP/s (AVX2 machine, numpy
 * on OpenBLAS's Haswell kernels); both operands from storage textures, 16 x 8 tiles: 17.7-22%; the
 * broadcast rows and one multiply-add chain per row over 4 reduction quads: 21.7-23.6%. Then, on
 * an AVX-512 machine against numpy on OpenBLAS's own AVX-512 kernels (229-296 GFLOP/s, 1.6x its
 * Haswell kernels there; bench/peers/blas.py): 16 lanes instead of 8 (81 vs 55 GFLOP/s in the lab),
 * 32 rows per invocation instead of 16 (A/B rounds: +11-42% with 16 lanes, +14% with 8; 48 rows
 * no better, 64 rows 21% slower and 5 s to compile; 2 instead of 4 quads per step no different),
 * and 20 products per submit like the peer's 20 per request: 31.3-35.7% of numpy in paired rounds
 * (forward 74-91 GFLOP/s), 27.5-31.7% in Deno.bench's table.
 * Instructions in the 16 x 8, 8-lane GEMM loop per reduction quad (the JIT code read with gdb):
 * 3,010 before the broadcast, 2,140 with it and per-row chains over one quad, 1,750 over four
 * quads (2,400 without subgroups). Of those 1,750, 1,024 are the multiply-adds (vmulps + vaddps),
 * ~340 the 10 texel loads per lane, ~100 the broadcasts, the rest spills and the loop mask's
 * blends. 8 quads per step had more spills (1,790).
 * - `fma` compiles to vmulps + vaddps, and a tile indexed by a variable (array, matrix column
 *   or vector component) goes to memory (0.5 GFLOP/s instead of 14), hence the named
 *   accumulators and component-wise stores in the WGSL.
 * - Tried without a measurable gain (before the broadcast): 16 x 16, 16 x 32, 32 x 16 and 8 x 32
 *   tiles (bigger tiles also compile 2-6x longer), 16 or 32 invocations per workgroup, the loop
 *   body repeated for 2 quads (each accumulator still updated once per quad: no fewer spills).
 * - Textures have power-of-two sides: llvmpipe compiles a shader variant per size class and a
 *   non-power-of-two variant of the GEMM took over a minute to compile.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec, UniformField } from "../gpu/kernel.ts";
import { groups } from "../gpu/kernel.ts";
import type { LinearShape } from "../reference/linear.ts";
import { grid2d } from "./grid.ts";
import { checkLength } from "./shapes.ts";

export type { LinearShape } from "../reference/linear.ts";

/** Lanes of a GEMM workgroup (see {@link gemmLanes}); each lane keeps a 16 x 8 tile of C. */
const MAX_GEMM_LANES = 16;
const PACK_WG = 64;
const BIAS_WG = 8;
const TILE_ROWS = 32;
const TILE_QUADS = 2;
/** Texture rows at least: a transposed B is read for 8 columns of C per lane of a workgroup. */
const MIN_HEIGHT = TILE_QUADS * MAX_GEMM_LANES * 4;

/**
 * `linear_forward`: gemm uniforms, A texture, B texture, bias, C (overwritten). {@link gemm} sets
 * the override constants `A_T` and `B_T` when a texture holds its operand's transpose, and the
 * workgroup size to the device's {@link gemmLanes} (8 here).
 */
export const LINEAR_FORWARD: KernelSpec = {
  name: "linear_forward",
  file: "linear.wgsl",
  entryPoint: "linear_forward",
  workgroupSize: [8],
  bindings: ["uniform", "read-texture", "read-texture", "read", "write"],
};

/**
 * `linear_backward`: gemm uniforms, A texture, B texture, an unread placeholder (the bias slot of
 * the shared epilogue), C (accumulated); `A_T`, `B_T` and workgroup size as for
 * {@link LINEAR_FORWARD}.
 */
export const LINEAR_BACKWARD: KernelSpec = {
  name: "linear_backward",
  file: "linear.wgsl",
  entryPoint: "linear_backward",
  workgroupSize: [8],
  bindings: ["uniform", "read-texture", "read-texture", "read", "write"],
};

/** `linear_bias_backward`: uniforms, dy texture (one chunk of rows), db (accumulated). */
export const LINEAR_BIAS_BACKWARD: KernelSpec = {
  name: "linear_bias_backward",
  file: "linear.wgsl",
  entryPoint: "linear_bias_backward",
  workgroupSize: [BIAS_WG],
  bindings: ["uniform", "read-texture", "write"],
};

/** `linear_pack`: pack uniforms, row-major source matrix, rgba32float texture. */
export const LINEAR_PACK: KernelSpec = {
  name: "linear_pack",
  file: "linear.wgsl",
  entryPoint: "linear_pack",
  workgroupSize: [PACK_WG],
  bindings: ["uniform", "read", "storage-texture"],
};

/**
 * Lanes of a GEMM workgroup on this device, the invocations that share A's rows: 16 where one
 * subgroup holds 16 (llvmpipe with AVX-512 vectors, GPUs), else 8 (llvmpipe with AVX2 vectors,
 * devices without subgroups).
 */
export function gemmLanes(gpu: GpuContext): number {
  return gpu.info.subgroupSize >= MAX_GEMM_LANES ? MAX_GEMM_LANES : 8;
}

/**
 * A kernel of `linear.wgsl` with the `shared_quad` library for this device: subgroup broadcasts
 * among {@link gemmLanes} lanes where `gpu.info.subgroupSize` allows them, else every lane loading
 * the shared rows itself.
 */
function onDevice(gpu: GpuContext, spec: KernelSpec): KernelSpec {
  const library = gpu.info.subgroupSize
    ? `linear_rows_subgroup${gemmLanes(gpu)}.wgsl`
    : "linear_rows_lanes.wgsl";
  return { ...spec, library };
}

/** A GEMM entry point of `linear.wgsl` on this device: its library and {@link gemmLanes} lanes. */
function gemmKernel(gpu: GpuContext, spec: KernelSpec): KernelSpec {
  return { ...onDevice(gpu, spec), workgroupSize: [gemmLanes(gpu)] };
}

/**
 * Prepares `y = x·W + b` (overwrites y): x `[rows, inDim]`, w `[inDim, outDim]`, b `[outDim]`,
 * y `[rows, outDim]`, all row-major.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array([1, 2]));
 *   const w = gpu.storage(new Float32Array([1, 0, 0, 1]));
 *   const b = gpu.storage(new Float32Array([0.5, 0])), y = gpu.storage(2);
 *   // runOnce frees the operand textures the op allocates; training prepares once and reuses.
 *   await gpu.runOnce(() => linearForward(gpu, x, w, b, y, { rows: 1, inDim: 2, outDim: 2 }));
 *   await gpu.read(y); // [1.5, 2]
 * }
 * ```
 */
export function linearForward(
  gpu: GpuContext,
  x: GpuView,
  w: GpuView,
  b: GpuView,
  y: GpuView,
  shape: LinearShape,
): Command[] {
  const { rows: M, inDim: K, outDim: N } = checkShape("linear_forward", shape);
  checkLength("linear_forward", { x: [x, M * K], w: [w, K * N], b: [b, N], y: [y, M * N] });
  const xm = { src: x, rows: M, cols: K, transposed: false };
  return gemm(gpu, "linear_forward", xm, { src: w, rows: K, cols: N, transposed: false }, b, y);
}

/**
 * Prepares the accumulating backward: `dx += dy·Wᵀ` (skipped when `dx` is null, e.g. for a
 * frozen input embedding), `dw += xᵀ·dy`, `db += column sums of dy`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const shape = { rows: 1, inDim: 2, outDim: 1 };
 *   const x = gpu.storage(new Float32Array([1, 2])), w = gpu.storage(new Float32Array([3, 4]));
 *   const dy = gpu.storage(new Float32Array([1]));
 *   const dx = gpu.storage(2), dw = gpu.storage(2), db = gpu.storage(1); // all accumulate
 *   await gpu.runOnce(() => linearBackward(gpu, x, w, dy, dx, dw, db, shape));
 *   await gpu.readMany([dx, dw, db]); // [[3, 4], [1, 2], [1]]
 * }
 * ```
 */
export function linearBackward(
  gpu: GpuContext,
  x: GpuView,
  w: GpuView,
  dy: GpuView,
  dx: GpuView | null,
  dw: GpuView,
  db: GpuView,
  shape: LinearShape,
): Command[] {
  const { rows: M, inDim: K, outDim: N } = checkShape("linear_backward", shape);
  checkLength("linear_backward", {
    x: [x, M * K],
    w: [w, K * N],
    dy: [dy, M * N],
    ...(dx ? { dx: [dx, M * K] as const } : {}),
    dw: [dw, K * N],
    db: [db, N],
  });
  const dym = { src: dy, rows: M, cols: N, transposed: false };
  // dy's blocks feed db, dw (as B) and dx (as A): each is filled once.
  const textures = new FilledTextures(gpu);
  const out: Command[] = [];
  for (const chunk of spans(M, maxSide(gpu))) {
    const view = textures.block(out, "linear_backward dy", dy, M, N, chunk, {
      start: 0,
      length: N,
    });
    out.push(gpu.prepare(
      onDevice(gpu, LINEAR_BIAS_BACKWARD),
      [{ u32: chunk.length }, { u32: N }],
      [view, db],
      groups(Math.ceil(N / 4), BIAS_WG),
    ));
  }
  const xt = { src: x, rows: K, cols: M, transposed: true };
  out.push(...gemm(gpu, "linear_backward dw", xt, dym, null, dw, textures));
  if (dx) {
    const wt = { src: w, rows: N, cols: K, transposed: true };
    out.push(...gemm(gpu, "linear_backward dx", dym, wt, null, dx, textures));
  }
  return out;
}

function checkShape(kernel: string, shape: LinearShape): LinearShape {
  for (const key of ["rows", "inDim", "outDim"] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${kernel}: shape.${key} must be an integer >= 1, got ${v}`);
    }
  }
  return shape;
}

/**
 * A logical matrix L `[rows, cols]` held in a GPU buffer row-major, or as Lᵀ row-major when
 * `transposed`.
 */
export interface MatrixRef {
  src: GpuView;
  rows: number;
  cols: number;
  transposed: boolean;
}

/** A contiguous range of rows or columns. */
export interface Span {
  start: number;
  length: number;
}

/**
 * The textures of one op's operands, filled on demand and by source view and block, so that a
 * block asked for again (dy feeds the bias gradient, dw as B and dx as A) is filled once.
 * @example
 * ```ts
 * import type { GpuView } from "../gpu/kernel.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const u = gpu.storage(new Float32Array([1, 2, 3, 4]));
 *   const v = gpu.storage(new Float32Array([0, 1, 1, 0]));
 *   const g = gpu.storage(4), h = gpu.storage(4); // null bias: the products accumulate
 *   const m = (src: GpuView, transposed: boolean) => ({ src, rows: 2, cols: 2, transposed });
 *   await gpu.runOnce(() => {
 *     const textures = new FilledTextures(gpu); // u's block is filled once for both products
 *     return [
 *       ...gemm(gpu, "G = U·V", m(u, false), m(v, false), null, g, textures),
 *       ...gemm(gpu, "H = U·Vᵀ", m(u, false), m(v, true), null, h, textures),
 *     ];
 *   });
 * }
 * ```
 */
export class FilledTextures {
  readonly #gpu: GpuContext;
  readonly #views = new Map<GpuView, Map<string, GPUTextureView>>();

  /** @param gpu the context the textures are created on */
  constructor(gpu: GpuContext) {
    this.#gpu = gpu;
  }

  /**
   * The rgba32float texture of the block `rows` x `cols` of the row-major matrix S
   * `[srcRows, srcCols]` held by `src` (which may be longer): texel (q, r) is
   * S[rows.start + r, cols.start + 4q..+3], zero past S's edges, with power-of-two sides of at
   * least 16 texels across and 64 down (what a GEMM tile grid reads; the GEMM also reads the
   * reduction in steps of 4 quads, 16 texels across or down, so its padding must be zeros: the
   * fill writes only the block's texels, and the padding keeps the zeros of a new texture). The
   * first time a block is asked for, the command that fills it is appended to `fills`.
   */
  block(
    fills: Command[],
    label: string,
    src: GpuView,
    srcRows: number,
    srcCols: number,
    rows: Span,
    cols: Span,
  ): GPUTextureView {
    let bySource = this.#views.get(src);
    if (!bySource) this.#views.set(src, bySource = new Map());
    const key = `${srcRows}x${srcCols} ${rows.start}+${rows.length} ${cols.start}+${cols.length}`;
    const known = bySource.get(key);
    if (known) return known;
    // Power-of-two sides: see the module notes.
    const width = pow2(Math.max(Math.ceil(cols.length / 4), TILE_QUADS * MAX_GEMM_LANES));
    const height = pow2(Math.max(rows.length, MIN_HEIGHT));
    const max = maxSide(this.#gpu);
    if (width > max || height > max) {
      throw new RangeError(
        `${label}: a ${rows.length} x ${cols.length} block needs a ${width}x${height} texture; ` +
          `this device allows at most ${max} texels per side`,
      );
    }
    // Rows that are whole quads and 256-byte aligned are already in texel order: a copy (a memcpy
    // per row on llvmpipe) instead of the pack kernel.
    const offset = src.offset + (rows.start * srcCols + cols.start) * 4;
    const upload = (srcCols * 4) % 256 === 0 && cols.length % 4 === 0 && offset % 16 === 0;
    const texture = this.#gpu.texture({
      label,
      size: [width, height],
      format: "rgba32float",
      usage: GPUTextureUsage.STORAGE_BINDING | (upload ? GPUTextureUsage.COPY_DST : 0),
    });
    const view = texture.createView();
    if (upload) {
      const { buffer } = src, bytesPerRow = srcCols * 4;
      fills.push({
        upload: {
          buffer,
          offset,
          bytesPerRow,
          texture,
          width: cols.length / 4,
          height: rows.length,
        },
      });
    } else {
      // Only the block's texels: the padding keeps the zeros of a new texture.
      const texels = [Math.ceil(cols.length / 4), rows.length];
      const uniforms = [srcRows, srcCols, rows.start, cols.start, ...texels].map((u32) => ({
        u32,
      }));
      const grid = grid2d(this.#gpu, texels[0] * texels[1], PACK_WG);
      fills.push(this.#gpu.prepare(onDevice(this.#gpu, LINEAR_PACK), uniforms, [src, view], grid));
    }
    bySource.set(key, view);
    return view;
  }
}

/**
 * Prepares C `[a.rows, b.cols]` (=|+=) A·B with A = `a` `[rows, red]` and B = `b` `[red, cols]`,
 * each stored as itself or transposed: copies both into textures, then one GEMM dispatch per
 * chunk (rows, reduction and, for a transposed B, columns are cut into chunks of at most the
 * device's texture side). With a bias, the first reduction chunk overwrites C with A·B + bias
 * and later chunks accumulate; with a null bias every chunk accumulates (C += A·B). Blocks already
 * in `textures` (from other products of the same op) are not filled again.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   // P = U·Vᵀ with u and v [2, 3] row-major: Vᵀ [3, 2] is v read transposed.
 *   const u = gpu.storage(new Float32Array([1, 0, 0, 0, 1, 0]));
 *   const v = gpu.storage(new Float32Array([1, 2, 3, 4, 5, 6]));
 *   const zeros = gpu.storage(2), p = gpu.storage(4); // a bias: P is overwritten
 *   const um = { src: u, rows: 2, cols: 3, transposed: false };
 *   const vt = { src: v, rows: 3, cols: 2, transposed: true };
 *   await gpu.runOnce(() => gemm(gpu, "P = U·Vᵀ", um, vt, zeros, p));
 *   await gpu.read(p); // [1, 4, 2, 5]
 * }
 * ```
 */
export function gemm(
  gpu: GpuContext,
  label: string,
  a: MatrixRef,
  b: MatrixRef,
  bias: GpuView | null,
  c: GpuView,
  textures: FilledTextures = new FilledTextures(gpu),
): Command[] {
  if (a.cols !== b.rows) {
    throw new RangeError(`${label}: A is [${a.rows}, ${a.cols}] but B is [${b.rows}, ${b.cols}]`);
  }
  const side = maxSide(gpu);
  const constants = { A_T: a.transposed ? 1 : 0, B_T: b.transposed ? 1 : 0 };
  const forward = { ...gemmKernel(gpu, LINEAR_FORWARD), constants };
  const backward = { ...gemmKernel(gpu, LINEAR_BACKWARD), constants };
  const lanes = gemmLanes(gpu);
  // A transposed B's texture runs down C's columns: cut them to the texture side too.
  const colSpans = b.transposed ? spans(b.cols, side) : [{ start: 0, length: b.cols }];
  const out: Command[] = [];
  spans(a.cols, side).forEach((red, kc) => {
    const bViews = colSpans.map((cols) =>
      b.transposed
        ? textures.block(out, `${label} Bᵀ`, b.src, b.cols, b.rows, cols, red)
        : textures.block(out, `${label} B`, b.src, b.rows, b.cols, red, cols)
    );
    for (const rows of spans(a.rows, side)) {
      const aView = a.transposed
        ? textures.block(out, `${label} Aᵀ`, a.src, a.cols, a.rows, red, rows)
        : textures.block(out, `${label} A`, a.src, a.rows, a.cols, rows, red);
      colSpans.forEach((cols, i) => {
        const uniforms: UniformField[] = [
          rows.length,
          cols.length,
          Math.ceil(red.length / 4),
          rows.start,
          cols.start,
          b.cols,
        ].map((u32) => ({ u32 }));
        const grid: [number, number] = [
          groups(Math.ceil(cols.length / 4), TILE_QUADS * lanes),
          groups(rows.length, TILE_ROWS),
        ];
        const views = [aView, bViews[i]];
        out.push(
          bias && kc === 0
            ? gpu.prepare(forward, uniforms, [...views, bias, c], grid)
            : gpu.prepare(backward, uniforms, [...views, placeholder(gpu), c], grid),
        );
      });
    }
  });
  return out;
}

/** `n` cut into spans of at most `size` (a multiple of 4, so reduction chunks keep whole quads). */
function spans(n: number, size: number): Span[] {
  return Array.from({ length: Math.ceil(n / size) }, (_, i) => ({
    start: i * size,
    length: Math.min(size, n - i * size),
  }));
}

/** The largest texture side the device allows (a power of two on every adapter we know). */
function maxSide(gpu: GpuContext): number {
  return 2 ** Math.floor(Math.log2(gpu.limits.maxTextureDimension2D));
}

const placeholders = new WeakMap<GpuContext, GpuView>();

/** A 4-element buffer bound where a kernel declares a binding it does not read. */
function placeholder(gpu: GpuContext): GpuView {
  let view = placeholders.get(gpu);
  if (!view) {
    view = gpu.storage(4, "linear placeholder");
    placeholders.set(gpu, view);
  }
  return view;
}

function pow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}
