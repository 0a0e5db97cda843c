/**
 * Linear layer `y = x·W + b` (W stored `[inDim, outDim]` row-major) and its accumulating backward
 * on the GPU (`kernels/linear.wgsl`); twin in `src/reference/linear.ts`.
 *
 * Every product is one GEMM `C (=|+=) A·B` whose A is read through 64 KiB uniform-buffer windows
 * and whose B is read from an rgba32float texture. An op is a few dispatches: pack B into a
 * texture, pack A into windows (skipped when A's own buffer can be bound as uniform windows:
 * row-major, row length a multiple of 4 and at most 1024, buffer created with UNIFORM usage as
 * {@link GpuContext.storage} does, and not the output's buffer), then one GEMM dispatch per
 * window. The textures and window buffers are created when the dispatches are prepared and live
 * as long as the dispatches.
 *
 * Why, measured on Mesa 22.3's llvmpipe (LLVM 15, 8 lanes of AVX2 per invocation group; 2 shared
 * cores, so absolute times varied 2x with the machine's load):
 * - A storage-buffer load is a loop over the 8 lanes with a branch and a bounds check per lane:
 *   ~475 ns per vec4 load for 8 lanes; workgroup memory the same (~570 ns). A uniform-buffer
 *   load is a branch-free scalarized gather (~25 ns per vec4), a textureLoad of an rgba32float
 *   texel a called function with one 16-byte load per lane (~35 ns). An SSBO register-tiled
 *   GEMM (8 x 16 per invocation) ran at 0.6 to 1.1 GFLOP/s; this layout at 7 to 20 GFLOP/s.
 * - `fma` compiles to vmulps + vaddps, and a tile indexed by a variable (array, matrix column
 *   or vector component) goes to memory: 0.5 GFLOP/s instead of 14, hence the named
 *   accumulators and component-wise stores in the WGSL.
 * - Tried without a measurable gain: 16 x 32 and 32 x 16 tiles (also 3x longer to compile),
 *   8 to 32 invocations per workgroup, unrolling the reduction by 2, a read-only storage texture
 *   for B. A from a texture too (no windows) was ~1.4x slower; removing all loads (computing A
 *   and B) ran ~2.5x faster, so the gathers, not the multiply-adds, bound the kernel.
 * - Textures have power-of-two sides: llvmpipe compiles a shader variant per size class and the
 *   non-power-of-two-height variant of the GEMM took over a minute to compile.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { Dispatch, GpuView, KernelSpec, UniformField } from "../gpu/kernel.ts";
import { groups } from "../gpu/kernel.ts";
import type { LinearShape } from "../reference/linear.ts";
import { checkLength } from "./shapes.ts";

export type { LinearShape } from "../reference/linear.ts";

/** GEMM workgroup: one llvmpipe SIMD vector (8 lanes), each lane a 16 x 16 tile of C. */
const GEMM_WG = 8;
const PACK_WG = 64;
const TILE_ROWS = 16;
const TILE_QUADS = 4;
/** vec4s (and bytes) in one uniform window. */
const WINDOW_QUADS = 4096;
const WINDOW_BYTES = WINDOW_QUADS * 16;

/** `linear_forward`: gemm uniforms, A window (uniform), B texture, bias, y (overwritten). */
export const LINEAR_FORWARD: KernelSpec = {
  name: "linear_forward",
  file: "linear.wgsl",
  entryPoint: "linear_forward",
  workgroupSize: [GEMM_WG],
  bindings: ["uniform", "uniform", "texture", "read", "write"],
};

/**
 * `linear_backward`: gemm uniforms, A window (uniform), B texture, an unread placeholder (the
 * bias slot of the shared epilogue), C (accumulated).
 */
export const LINEAR_BACKWARD: KernelSpec = {
  name: "linear_backward",
  file: "linear.wgsl",
  entryPoint: "linear_backward",
  workgroupSize: [GEMM_WG],
  bindings: ["uniform", "uniform", "texture", "read", "write"],
};

/** `linear_bias_backward`: uniforms, dy texture, db (accumulated). */
export const LINEAR_BIAS_BACKWARD: KernelSpec = {
  name: "linear_bias_backward",
  file: "linear.wgsl",
  entryPoint: "linear_bias_backward",
  workgroupSize: [GEMM_WG],
  bindings: ["uniform", "texture", "write"],
};

/** `linear_pack_texture`: pack uniforms, source matrix, rgba32float texture. */
export const LINEAR_PACK_TEXTURE: KernelSpec = {
  name: "linear_pack_texture",
  file: "linear.wgsl",
  entryPoint: "linear_pack_texture",
  workgroupSize: [PACK_WG],
  bindings: ["uniform", "read", "storage-texture"],
};

/** `linear_pack_windows`: pack uniforms, source matrix, window buffer. */
export const LINEAR_PACK_WINDOWS: KernelSpec = {
  name: "linear_pack_windows",
  file: "linear.wgsl",
  entryPoint: "linear_pack_windows",
  workgroupSize: [PACK_WG],
  bindings: ["uniform", "read", "write"],
};

/**
 * Prepares `y = x·W + b` (overwrites y): x `[rows, inDim]`, w `[inDim, outDim]`, b `[outDim]`,
 * y `[rows, outDim]`, all row-major.
 * @example
 * ```ts
 * // const dispatches = linearForward(gpu, x, w, b, y, { rows: 256, inDim: 512, outDim: 512 });
 * // await gpu.run(dispatches);
 * ```
 */
export function linearForward(
  gpu: GpuContext,
  x: GpuView,
  w: GpuView,
  b: GpuView,
  y: GpuView,
  shape: LinearShape,
): Dispatch[] {
  const { rows: M, inDim: K, outDim: N } = checkShape("linear_forward", shape);
  checkLength("linear_forward", { x: [x, M * K], w: [w, K * N], b: [b, N], y: [y, M * N] });
  const wTex = packTexture(gpu, "linear_forward w", w, K, N, false);
  const xWin = windows(gpu, "linear_forward x", x, M, K, false, y.buffer);
  return [wTex.pack, ...xWin.pack, ...gemm(gpu, xWin, wTex.view, b, y, N)];
}

/**
 * Prepares the accumulating backward: `dx += dy·Wᵀ` (skipped when `dx` is null, e.g. for a
 * frozen input embedding), `dw += xᵀ·dy`, `db += column sums of dy`.
 * @example
 * ```ts
 * // const dispatches = linearBackward(gpu, x, w, dy, dx, dw, db, { rows: 256, inDim: 512, outDim: 512 });
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
): Dispatch[] {
  const { rows: M, inDim: K, outDim: N } = checkShape("linear_backward", shape);
  checkLength("linear_backward", {
    x: [x, M * K],
    w: [w, K * N],
    dy: [dy, M * N],
    ...(dx ? { dx: [dx, M * K] as const } : {}),
    dw: [dw, K * N],
    db: [db, N],
  });
  const dyTex = packTexture(gpu, "linear_backward dy", dy, M, N, false);
  const out: Dispatch[] = [dyTex.pack];
  out.push(gpu.prepare(
    LINEAR_BIAS_BACKWARD,
    [{ u32: M }, { u32: N }],
    [dyTex.view, db],
    groups(Math.ceil(N / 4), GEMM_WG),
  ));
  const xtWin = windows(gpu, "linear_backward xᵀ", x, K, M, true, dw.buffer);
  out.push(...xtWin.pack, ...gemm(gpu, xtWin, dyTex.view, null, dw, N));
  if (dx) {
    const wtTex = packTexture(gpu, "linear_backward wᵀ", w, N, K, true);
    const dyWin = windows(gpu, "linear_backward dy", dy, M, N, false, dx.buffer);
    out.push(wtTex.pack, ...dyWin.pack, ...gemm(gpu, dyWin, wtTex.view, null, dx, K));
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

/** A packed B operand: the texture view and the dispatch that fills it. */
export interface PackedTexture {
  pack: Dispatch;
  view: GPUTextureView;
}

/**
 * Packs the logical matrix L `[rows, cols]` (the source holds L row-major, or Lᵀ row-major when
 * `transposed`) into a texture whose texel (q, r) is L[r, 4q..4q+3], zero-padded to powers of two
 * (at least one GEMM tile across, 4 rows down): the B operand of {@link gemm}.
 * @example
 * ```ts
 * // const vt = packTexture(gpu, "similarity vᵀ", v, dim, cols, true); // B = Vᵀ for V [cols, dim]
 * ```
 */
export function packTexture(
  gpu: GpuContext,
  label: string,
  src: GpuView,
  rows: number,
  cols: number,
  transposed: boolean,
): PackedTexture {
  // Power-of-two sides: see the module notes.
  const width = pow2(Math.max(Math.ceil(cols / 4), TILE_QUADS * GEMM_WG));
  const height = pow2(Math.max(rows, 4));
  const max = gpu.limits.maxTextureDimension2D;
  if (width > max || height > max) {
    throw new RangeError(
      `${label}: a [${rows}, ${cols}] operand needs a ${width}x${height} texture; ` +
        `this device allows at most ${max} texels per side`,
    );
  }
  const texture = gpu.texture({
    label,
    size: [width, height],
    format: "rgba32float",
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING,
  });
  const view = texture.createView();
  const pack = gpu.prepare(
    LINEAR_PACK_TEXTURE,
    packUniforms(rows, cols, transposed, 0, 0, 0, 0, width),
    [src, view],
    [groups(width, PACK_WG), height],
  );
  return { pack, view };
}

/** The A operand as uniform windows, in (row window, reduction window) order. */
export interface Windows {
  /** Dispatches that fill the windows; empty when the source buffer is bound directly. */
  pack: Dispatch[];
  /** One 64 KiB view per window. */
  views: GpuView[];
  /** Quad where row 0 of each window starts inside its view. */
  baseQuads: number[];
  /** Rows of A and reduction quads per window; quads per row inside a window. */
  winRows: number;
  winQuads: number;
  rowQuads: number;
  /** Rows of A (and of C), reduction quads in all, windows along the reduction. */
  rows: number;
  redQuads: number;
  redWindows: number;
}

/**
 * The logical matrix A `[rows, red]` (source row-major, or Aᵀ row-major when `transposed`) as
 * uniform windows of whole 16-row tiles: A's own buffer when its rows can be bound in place (and
 * it is not `output`'s buffer: WebGPU forbids binding one buffer as uniform and as writable
 * storage in one dispatch), else a packed copy (zero-padded rows of at most 1024 reduction values
 * per window): the A operand of {@link gemm}.
 * @example
 * ```ts
 * // const a = windows(gpu, "similarity dLᵀ", dl, cols, rows, true, out.buffer); // A = dLᵀ
 * ```
 */
export function windows(
  gpu: GpuContext,
  label: string,
  src: GpuView,
  rows: number,
  red: number,
  transposed: boolean,
  output: GPUBuffer,
): Windows {
  const redQuads = Math.ceil(red / 4);
  const maxQuads = WINDOW_QUADS / TILE_ROWS;
  const winQuads = Math.min(redQuads, maxQuads);
  const winRows = TILE_ROWS * Math.floor(maxQuads / winQuads);
  const rowWindows = Math.ceil(rows / winRows);
  const redWindows = Math.ceil(redQuads / winQuads);
  const plan = { winRows, winQuads, rows, redQuads, redWindows };
  const direct = transposed || red % 4 !== 0 || src.buffer === output
    ? null
    : bindInPlace(gpu, src, rows, red, winRows);
  if (direct) return { ...plan, pack: [], rowQuads: redQuads, ...direct };

  const count = rowWindows * redWindows;
  const buffer = gpu.buffer({
    label,
    size: count * WINDOW_BYTES,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM,
  });
  const grid = grid2d(gpu, count * winRows * winQuads, PACK_WG);
  const pack = gpu.prepare(
    LINEAR_PACK_WINDOWS,
    packUniforms(rows, red, transposed, winRows, winQuads, redWindows, count, grid.width),
    [src, { buffer, offset: 0, length: count * WINDOW_QUADS * 4 }],
    grid.groups,
  );
  const views = Array.from({ length: count }, (_, i) => ({
    buffer,
    offset: i * WINDOW_BYTES,
    length: WINDOW_QUADS * 4,
  }));
  return { ...plan, pack: [pack], views, baseQuads: views.map(() => 0), rowQuads: winQuads };
}

/**
 * Windows over A's own buffer (row-major, `red` a multiple of 4 and at most 1024 so whole tiles
 * of rows fit a window), or null when the buffer lacks UNIFORM usage or is too small to hold a
 * full window. A window that would run past the buffer's end starts earlier instead.
 */
function bindInPlace(
  gpu: GpuContext,
  src: GpuView,
  rows: number,
  red: number,
  winRows: number,
): Pick<Windows, "views" | "baseQuads"> | null {
  const { buffer } = src;
  const align = gpu.limits.minUniformBufferOffsetAlignment;
  if (
    !(buffer.usage & GPUBufferUsage.UNIFORM) || red / 4 > WINDOW_QUADS / TILE_ROWS ||
    src.offset % align !== 0 || buffer.size - src.offset < WINDOW_BYTES
  ) return null;
  const last = Math.floor((buffer.size - WINDOW_BYTES) / align) * align;
  const views: GpuView[] = [], baseQuads: number[] = [];
  for (let r = 0; r < rows; r += winRows) {
    const start = src.offset + r * red * 4;
    const end = src.offset + Math.min(rows, r + winRows) * red * 4;
    const offset = Math.min(start, last);
    if (end > offset + WINDOW_BYTES) return null;
    views.push({ buffer, offset, length: WINDOW_QUADS * 4 });
    baseQuads.push((start - offset) / 16);
  }
  return { views, baseQuads };
}

/**
 * One GEMM dispatch per window: C `[a.rows, cols]` gets A·B; the first reduction window
 * overwrites C and adds `bias` when there is one, every other window accumulates (so with a null
 * bias, C += A·B). Run after the dispatches that pack A and B.
 * @example
 * ```ts
 * // const b = packTexture(gpu, "w", w, K, N, false);
 * // const a = windows(gpu, "x", x, M, K, false, y.buffer);
 * // await gpu.run([b.pack, ...a.pack, ...gemm(gpu, a, b.view, bias, y, N)]);
 * ```
 */
export function gemm(
  gpu: GpuContext,
  a: Windows,
  b: GPUTextureView,
  bias: GpuView | null,
  c: GpuView,
  cols: number,
): Dispatch[] {
  const gridX = groups(Math.ceil(cols / 4), TILE_QUADS * GEMM_WG);
  return a.views.map((view, i) => {
    const rw = Math.floor(i / a.redWindows), kc = i % a.redWindows;
    const winRows = Math.min(a.winRows, a.rows - rw * a.winRows);
    const uniforms: UniformField[] = [
      { u32: winRows },
      { u32: cols },
      { u32: Math.min(a.winQuads, a.redQuads - kc * a.winQuads) },
      { u32: a.rowQuads },
      { u32: a.baseQuads[i] },
      { u32: rw * a.winRows },
      { u32: kc * a.winQuads * 4 },
    ];
    const grid: [number, number] = [gridX, groups(winRows, TILE_ROWS)];
    return bias && kc === 0
      ? gpu.prepare(LINEAR_FORWARD, uniforms, [view, b, bias, c], grid)
      : gpu.prepare(LINEAR_BACKWARD, uniforms, [view, b, placeholder(gpu), c], grid);
  });
}

function packUniforms(
  rows: number,
  cols: number,
  transposed: boolean,
  winRows: number,
  winQuads: number,
  winCols: number,
  windows: number,
  width: number,
): UniformField[] {
  return [rows, cols, transposed ? 1 : 0, winRows, winQuads, winCols, windows, width].map((
    u32,
  ) => ({ u32 }));
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

/** A 2-D grid of `wg`-wide groups covering `n` invocations, and its row width in invocations. */
function grid2d(
  gpu: GpuContext,
  n: number,
  wg: number,
): { groups: [number, number]; width: number } {
  const total = groups(n, wg);
  const x = Math.min(total, gpu.limits.maxComputeWorkgroupsPerDimension);
  return { groups: [x, Math.ceil(total / x)], width: x * wg };
}
