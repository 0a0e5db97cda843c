/**
 * Pillow's `Image.resize` (Pillow 9.x, `libImaging/Resample.c` and `Geometry.c`) reproduced
 * bit for bit, restricted to an output window so that resize + center crop computes only the
 * pixels the crop keeps (each output pixel of Pillow's resize depends on its own coordinates
 * only, so the window equals cropping the full result).
 *
 * - Bicubic (a = -0.5, support 2, widened by the scale factor when downsampling: antialiasing),
 *   separable, horizontal pass first. 8-bit images use Pillow's 22-bit fixed-point coefficients
 *   and round each pass to uint8; 32-bit integer images (mode "I") use double coefficients and
 *   round each pass half away from zero.
 * - Nearest (Pillow forces it for modes "1" and "P"): source index `floor((x + 0.5) * in/out)`,
 *   accumulated the way `ImagingScaleAffine` does.
 *
 * image-js has a resize, but not Pillow's antialiased filter nor its rounding, hence this file.
 *
 * @module
 */

/** An interleaved raster: `stride` samples per pixel, row-major. */
export interface Raster<T extends Uint8Array | Uint16Array | Int32Array> {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Samples, `stride` per pixel. */
  data: T;
  /** Samples per pixel in `data`. */
  stride: number;
}

/** The part of the resized image to compute: resized size and the window kept from it. */
export interface ResizeWindow {
  /** Width of the whole resized image. */
  outWidth: number;
  /** Height of the whole resized image. */
  outHeight: number;
  /** First column kept. */
  left: number;
  /** First row kept. */
  top: number;
  /** Columns kept. */
  width: number;
  /** Rows kept. */
  height: number;
}

const PRECISION_BITS = 22; // Pillow: 32 - 8 - 2

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Pillow's `precompute_coeffs` for output indices `first .. first + count - 1`. */
interface Coefficients {
  /** Per output index: first input index. */
  start: Int32Array;
  /** Per output index: number of taps. */
  taps: Int32Array;
  /** `ksize` weights per output index (normalized to sum 1). */
  weights: Float64Array;
  /** Weights per output index in `weights`. */
  ksize: number;
}

function precomputeCoefficients(
  inSize: number,
  outSize: number,
  first: number,
  count: number,
): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count), taps = new Int32Array(count);
  const weights = new Float64Array(count * ksize);
  const ss = 1 / filterscale;
  for (let i = 0; i < count; i++) {
    const center = (first + i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < n; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      weights[i * ksize + x] = w;
      ww += w;
    }
    if (ww !== 0) { for (let x = 0; x < n; x++) weights[i * ksize + x] /= ww; }
    start[i] = xmin;
    taps[i] = n;
  }
  return { start, taps, weights, ksize };
}

/** Pillow's `normalize_coeffs_8bpc`: weights to 22-bit fixed point, rounded half away from 0. */
function fixedPoint(weights: Float64Array): Int32Array {
  const out = new Int32Array(weights.length);
  const one = 1 << PRECISION_BITS;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    out[i] = Math.trunc(w < 0 ? -0.5 + w * one : 0.5 + w * one);
  }
  return out;
}

/**
 * Pillow's rounding at the end of each pass: 8-bit sums are 22-bit fixed point started at
 * 2^21, shifted and clipped to 0..255 (`clip8`); 32-bit sums are rounded half away from zero.
 */
function finish(ss: number, eightBit: boolean): number {
  if (!eightBit) return ss >= 0 ? Math.floor(ss + 0.5) : -Math.floor(-ss + 0.5);
  const v = ss >> PRECISION_BITS; // |ss| < 2^31 for 8-bit samples, as in Pillow's int arithmetic
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Weights and starting sum of a pass: fixed point for 8-bit, doubles for 32-bit. */
function passWeights(c: Coefficients, eightBit: boolean) {
  return eightBit
    ? { k: fixedPoint(c.weights), init: 1 << (PRECISION_BITS - 1) }
    : { k: c.weights, init: 0 };
}

/**
 * Horizontal pass (Pillow's `ImagingResampleHorizontal_8bpc` / `_32bpc`) over source rows
 * `y0 .. y0 + rows - 1`: one output pixel per coefficient set, `bands` samples each.
 */
function horizontalPass(
  src: Raster<Uint8Array | Uint16Array>,
  bands: number,
  c: Coefficients,
  y0: number,
  rows: number,
  eightBit: boolean,
): Raster<Uint8Array | Int32Array> {
  const { k, init } = passWeights(c, eightBit);
  const { start, taps, ksize } = c, width = start.length;
  const { data, stride, width: w } = src;
  const out = eightBit
    ? new Uint8Array(width * rows * bands)
    : new Int32Array(width * rows * bands);
  let o = 0;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < width; x++) {
      const kb = x * ksize, n = taps[x], p0 = ((y0 + y) * w + start[x]) * stride;
      for (let b = 0; b < bands; b++) {
        let ss = init;
        for (let t = 0, p = p0 + b; t < n; t++, p += stride) ss += data[p] * k[kb + t];
        out[o++] = finish(ss, eightBit);
      }
    }
  }
  return { width, height: rows, data: out, stride: bands };
}

/**
 * Vertical pass (Pillow's `ImagingResampleVertical_8bpc` / `_32bpc`) over a source whose first
 * row is source row `y0`: whole output rows accumulated tap by tap (the same sums, in the same
 * order, as Pillow's per-pixel loop; exact in float64 for 8-bit).
 */
function verticalPass(
  src: Raster<Uint8Array | Int32Array>,
  c: Coefficients,
  y0: number,
  eightBit: boolean,
): Raster<Uint8Array | Int32Array> {
  const { k, init } = passWeights(c, eightBit);
  const { start, taps, ksize } = c, height = start.length;
  const { data, stride, width } = src, rowLen = width * stride;
  const out = eightBit ? new Uint8Array(rowLen * height) : new Int32Array(rowLen * height);
  const acc = new Float64Array(rowLen);
  for (let y = 0; y < height; y++) {
    acc.fill(init);
    for (let t = 0; t < taps[y]; t++) {
      const kt = k[y * ksize + t], r = (start[y] - y0 + t) * rowLen;
      for (let j = 0; j < rowLen; j++) acc[j] += data[r + j] * kt;
    }
    for (let j = 0, o = y * rowLen; j < rowLen; j++) out[o + j] = finish(acc[j], eightBit);
  }
  return { width, height, data: out, stride };
}

/**
 * Bicubic resize of the first `bands` samples of each pixel, computing only `win`. 8-bit input
 * gives uint8 output; 16-bit input is Pillow's mode "I" (one band) and gives int32 output.
 * @example
 * ```ts
 * const src = { width: 2, height: 2, data: new Uint8Array([0, 255, 255, 0]), stride: 1 };
 * const win = { outWidth: 4, outHeight: 4, left: 1, top: 1, width: 2, height: 2 };
 * const out = resizeBicubic(src, 1, win); // 2×2 center of the 4×4 resize
 * ```
 */
export function resizeBicubic(
  src: Raster<Uint8Array | Uint16Array>,
  bands: number,
  win: ResizeWindow,
): Raster<Uint8Array | Int32Array> {
  const cx = precomputeCoefficients(src.width, win.outWidth, win.left, win.width);
  const cy = precomputeCoefficients(src.height, win.outHeight, win.top, win.height);
  // rows of the source that the vertical pass reads
  const y0 = cy.start[0];
  const y1 = cy.start[win.height - 1] + cy.taps[win.height - 1];
  const eightBit = src.data instanceof Uint8Array;
  return verticalPass(horizontalPass(src, bands, cx, y0, y1 - y0, eightBit), cy, y0, eightBit);
}

/** Source indices of Pillow's nearest resize (`ImagingScaleAffine`) for `first .. first+count`. */
function nearestIndices(inSize: number, outSize: number, first: number, count: number): Int32Array {
  const a = inSize / outSize;
  const idx = new Int32Array(count);
  let pos = a * 0.5;
  for (let i = 0; i < first + count; i++, pos += a) {
    if (i >= first) idx[i - first] = Math.trunc(pos); // < inSize: pos ends near inSize - a / 2
  }
  return idx;
}

/**
 * Nearest-neighbour resize of the first `bands` samples of each pixel, computing only `win`
 * (Pillow's resize for modes "1" and "P", whatever filter was asked).
 * @example
 * ```ts
 * const src = { width: 2, height: 1, data: new Uint8Array([10, 20]), stride: 1 };
 * const win = { outWidth: 4, outHeight: 2, left: 0, top: 0, width: 4, height: 2 };
 * resizeNearest(src, 1, win).data; // [10, 10, 20, 20, 10, 10, 20, 20]
 * ```
 */
export function resizeNearest(
  src: Raster<Uint8Array>,
  bands: number,
  win: ResizeWindow,
): Raster<Uint8Array> {
  const xs = nearestIndices(src.width, win.outWidth, win.left, win.width);
  const ys = nearestIndices(src.height, win.outHeight, win.top, win.height);
  const out = new Uint8Array(win.width * win.height * bands);
  let o = 0;
  for (const y of ys) {
    for (const x of xs) {
      const p = (y * src.width + x) * src.stride;
      for (let b = 0; b < bands; b++) out[o++] = src.data[p + b];
    }
  }
  return { width: win.width, height: win.height, data: out, stride: bands };
}
