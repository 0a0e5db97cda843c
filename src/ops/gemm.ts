/**
 * The general matrix product `C (=|+=) A·B` on the GPU (`kernels/gemm.wgsl`) behind the linear
 * layer, the similarity and SupCon; twin in `src/reference/gemm.ts`.
 *
 * Both operands are first copied into rgba32float textures (texel (q, r) = S[r, 4q..4q+3] of the
 * operand's row-major source S, which is the operand or its transpose) that the GEMM reads as
 * read-only storage textures, its fastest loads on a software adapter. A product is a few
 * commands: fill A's texture, fill B's, then one GEMM dispatch per chunk (one chunk unless a side
 * exceeds the device's texture size). A texture is filled by a buffer-to-texture copy when the
 * source's rows are 256-byte multiples, else by a pack kernel. The textures are created when the
 * commands are prepared and live as long as the commands.
 *
 * @module
 */

import type { Command, GpuContext, GpuInfo } from "../gpu/context.ts";
import { forDevice, type GpuView, groups, type KernelSpec, type PerDevice } from "../gpu/kernel.ts";
import { checkGemm, type MatrixRef as HostMatrixRef } from "../reference/gemm.ts";
import { grid2d, GRID_LIBRARY } from "./grid.ts";

/** Lanes of a GEMM workgroup (see {@link gemmLanes}); each lane keeps a 16 x 8 tile of C. */
const MAX_GEMM_LANES = 16;
const PACK_WG = 64;
const TILE_ROWS = 32;
const TILE_QUADS = 2;
/** Texture rows at least: a transposed B is read for 8 columns of C per lane of a workgroup. */
const MIN_HEIGHT = TILE_QUADS * MAX_GEMM_LANES * 4;

/**
 * Lanes of a GEMM workgroup on this device, the invocations that share A's rows: 16 where one
 * subgroup holds 16 (llvmpipe with AVX-512 vectors, GPUs), else 8 (llvmpipe with AVX2 vectors,
 * devices without subgroups).
 * @example
 * ```ts
 * const info = { name: "llvmpipe", backend: "vulkan", isFallback: true, softwareGl: false };
 * gemmLanes({ ...info, subgroupSize: 16 }); // 16
 * gemmLanes({ ...info, subgroupSize: 0 }); // 8
 * ```
 */
export function gemmLanes(info: GpuInfo): number {
  return info.subgroupSize >= MAX_GEMM_LANES ? MAX_GEMM_LANES : 8;
}

/**
 * The `shared_quad` library of `gemm.wgsl` for the device: subgroup broadcasts among
 * {@link gemmLanes} lanes where the device has subgroups, else every lane loading the shared rows
 * itself.
 */
const GEMM_ROWS: PerDevice<string> = (info) =>
  info.subgroupSize ? `gemm_rows_subgroup${gemmLanes(info)}.wgsl` : "gemm_rows_lanes.wgsl";

const GEMM_UNIFORMS = {
  rows: "u32",
  cols: "u32",
  quads: "u32",
  out_row: "u32",
  out_col: "u32",
  ldc: "u32",
} as const;

/**
 * `gemm_store`: gemm_c = A·B + gemm_bias over one chunk, A and B read from the textures gemm_a
 * and gemm_b. {@link gemm} sets the override constants `A_T` and `B_T` when a texture holds its
 * operand's transpose; the workgroup is the device's {@link gemmLanes}.
 */
export const GEMM_STORE: KernelSpec = {
  name: "gemm_store",
  file: "gemm.wgsl",
  libraries: [GRID_LIBRARY, GEMM_ROWS],
  entryPoint: "gemm_store",
  workgroupSize: (info) => [gemmLanes(info)],
  uniforms: GEMM_UNIFORMS,
  bindings: {
    gemm_a: "read-texture",
    gemm_b: "read-texture",
    gemm_bias: "read",
    gemm_c: "read_write",
  },
};

/** `gemm_accumulate`: gemm_c += A·B over one chunk; otherwise as {@link GEMM_STORE}. */
export const GEMM_ACCUMULATE: KernelSpec = {
  ...GEMM_STORE,
  name: "gemm_accumulate",
  entryPoint: "gemm_accumulate",
  bindings: { gemm_a: "read-texture", gemm_b: "read-texture", gemm_c: "read_write" },
};

/** `gemm_pack`: a block of the row-major matrix src into the rgba32float texture texels. */
export const GEMM_PACK: KernelSpec = {
  name: "gemm_pack",
  file: "gemm.wgsl",
  libraries: [GRID_LIBRARY, GEMM_ROWS],
  entryPoint: "gemm_pack",
  workgroupSize: [PACK_WG],
  uniforms: {
    rows: "u32",
    cols: "u32",
    row0: "u32",
    col0: "u32",
    width: "u32",
    height: "u32",
  },
  bindings: { src: "read", texels: "write-texture" },
};

/**
 * A logical matrix L `[rows, cols]` held in a GPU buffer row-major, or as Lᵀ row-major when
 * `transposed`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const w = gpu.storage(6); // W [2, 3] row-major
 *   const wt: MatrixRef = { src: w, rows: 3, cols: 2, transposed: true }; // Wᵀ, read as stored
 * }
 * ```
 */
export type MatrixRef = HostMatrixRef<GpuView>;

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
    // Power-of-two sides: llvmpipe compiles a shader variant per texture size class, and the
    // GEMM's variants for other sizes compile for minutes.
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
      const width = Math.ceil(cols.length / 4), height = rows.length;
      const uniforms = {
        rows: srcRows,
        cols: srcCols,
        row0: rows.start,
        col0: cols.start,
        width,
        height,
      };
      const grid = grid2d(this.#gpu, width * height, PACK_WG);
      fills.push(this.#gpu.prepare(GEMM_PACK, { uniforms, bindings: { src, texels: view } }, grid));
    }
    bySource.set(key, view);
    return view;
  }

  /**
   * The {@link block}s of the whole row-major matrix `[rows, cols]` held by `src`, cut into row
   * chunks of at most the device's texture side as {@link gemm} cuts its operands (so a GEMM of
   * the same op finds them filled), each with its rows.
   */
  rowBlocks(
    fills: Command[],
    label: string,
    src: GpuView,
    rows: number,
    cols: number,
  ): { rows: Span; view: GPUTextureView }[] {
    return spans(rows, maxSide(this.#gpu)).map((chunk) => ({
      rows: chunk,
      view: this.block(fills, label, src, rows, cols, chunk, { start: 0, length: cols }),
    }));
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
  checkGemm(label, a, b);
  const side = maxSide(gpu);
  const constants = { A_T: a.transposed ? 1 : 0, B_T: b.transposed ? 1 : 0 };
  const store = { ...GEMM_STORE, constants };
  const accumulate = { ...GEMM_ACCUMULATE, constants };
  const [lanes] = forDevice(GEMM_STORE.workgroupSize, gpu.info);
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
        const uniforms = {
          rows: rows.length,
          cols: cols.length,
          quads: Math.ceil(red.length / 4),
          out_row: rows.start,
          out_col: cols.start,
          ldc: b.cols,
        };
        const grid: [number, number] = [
          groups(Math.ceil(cols.length / 4), TILE_QUADS * lanes),
          groups(rows.length, TILE_ROWS),
        ];
        const views = { gemm_a: aView, gemm_b: bViews[i], gemm_c: c };
        out.push(
          bias && kc === 0
            ? gpu.prepare(store, { uniforms, bindings: { ...views, gemm_bias: bias } }, grid)
            : gpu.prepare(accumulate, { uniforms, bindings: views }, grid),
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

function pow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}
