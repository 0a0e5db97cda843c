/**
 * Image preprocessing for the BiomedCLIP image tower, equal to open_clip's inference transform
 * on a PIL image (`Resize(S, BICUBIC)`, `CenterCrop(S)`, `convert("RGB")`, `ToTensor()`,
 * `Normalize(CLIP mean, std)`) as Pillow 9.4 + torchvision 0.14 compute it:
 *
 * 1. Decode JPEG with image-js (jpeg-js underneath; reads baseline and progressive) and PNG with
 *    fast-png, the PNG decoder image-js wraps: image-js 1.7's own PNG step unpacks 1-bit grey
 *    and 1/2/4-bit palette rows without their byte padding (wrong pixels whenever width × depth
 *    is not a multiple of 8) and rejects 2/4-bit grey. Pixels are held the way Pillow opens
 *    them: 8-bit grey "L", grey+alpha "LA", "RGB", "RGBA"; 16-bit grey as 32-bit "I" (values
 *    0..65535); 16-bit RGB/RGBA as their high bytes; 16-bit grey+alpha as "RGBA"; palette "P";
 *    1-bit "1"; 2/4-bit grey "L"; JPEG grey "L" or "RGB" (CMYK is refused). EXIF orientation is
 *    ignored, as Pillow's `Image.open` does.
 * 2. Resize the shortest side to S (`int(S * long / short)` for the other side), bicubic with
 *    Pillow's antialiasing and rounding (`pil_resample.ts`); modes "P" and "1" resize with
 *    nearest (Pillow forces it); "LA"/"RGBA" resize premultiplied by alpha, as Pillow does.
 *    An image whose short side already is S is not resized (torchvision skips it).
 * 3. Center crop S×S, offsets `round((H - S) / 2)` with Python's round half to even.
 * 4. `convert("RGB")`: alpha dropped without compositing, grey replicated, "I" clipped to 0..255.
 * 5. `x / 255`, then `(x - mean) / std` in float32: NCHW Float32Array of 3·S·S.
 *
 * PNG output equals torchvision's bit for bit (tests/preprocess_image_test.ts). JPEG output is
 * close but not equal: Pillow decodes with libjpeg-turbo (fancy chroma upsampling, its own IDCT),
 * image-js with jpeg-js.
 *
 * Memory: the header is read first and images above `maxPixels` are refused before decoding
 * (default: Pillow's `MAX_IMAGE_PIXELS`, 89,478,485 pixels: 358 MB as 8-bit RGBA, twice that
 * at 16 bits, plus the decoder's compressed-rows buffer while it decodes). The decoded image is
 * not copied again (alpha is premultiplied in place; 16-bit colour keeps one 8-bit copy) and
 * the resize computes only the S×S crop window: its intermediate is S columns by the source
 * rows the crop needs.
 *
 * @module
 */

import { decode as decodePng, type DecodedPng } from "fast-png";
import { decodeJpeg } from "image-js";
import { type Raster, resizeBicubic, resizeNearest, type ResizeWindow } from "./pil_resample.ts";

/** open_clip's OPENAI_DATASET_MEAN (BiomedCLIP uses it). */
export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
/** open_clip's OPENAI_DATASET_STD. */
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** Pillow's `Image.MAX_IMAGE_PIXELS`: the default pixel limit. */
export const DEFAULT_MAX_PIXELS = 89_478_485;

/** Options of {@link preprocessImage}. */
export interface PreprocessOptions {
  /** Output side S: shortest side resized to S, then an S×S center crop. Default 224. */
  size?: number;
  /** Per-channel mean subtracted after `/255`. Default {@link CLIP_MEAN}. */
  mean?: readonly [number, number, number];
  /** Per-channel std divided by. Default {@link CLIP_STD}. */
  std?: readonly [number, number, number];
  /** Images with more pixels are refused before decoding. Default {@link DEFAULT_MAX_PIXELS}. */
  maxPixels?: number;
  /** Name for error messages (the file path). Default "image". */
  name?: string;
}

/** An 8-bit RGB image, rows of `width` pixels of 3 bytes (HWC). */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes, R G B per pixel. */
  data: Uint8Array;
}

type Header =
  | { format: "png"; width: number; height: number; depth: number; interlaced: boolean }
  | { format: "jpeg"; width: number; height: number; components: number };

/** The decoded pixels as Pillow holds them. */
interface PilImage {
  /** Pillow's mode name (for messages). */
  mode: string;
  /** 8-bit samples, or 16-bit for mode "I". Extra samples past `bands` are ignored. */
  raster: Raster<Uint8Array | Uint16Array>;
  /** Samples per pixel Pillow keeps: colour (1 or 3) plus alpha (last) if any. */
  bands: number;
  /** Pillow's premultiply rule while resizing: "LA" or "RGBA" ones, or none. */
  alpha: "none" | "LA" | "RGBA";
  /** Pillow resizes modes "1" and "P" with nearest whatever was asked. */
  nearest: boolean;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];
}

/** Reads format, size and pixel layout without decoding. */
function readHeader(b: Uint8Array, name: string): Header {
  if (b.length >= 26 && PNG_SIGNATURE.every((v, i) => b[i] === v)) {
    if (String.fromCharCode(...b.subarray(12, 16)) !== "IHDR") {
      throw new Error(`${name}: corrupt PNG: first chunk is not IHDR`);
    }
    return {
      format: "png",
      width: u32(b, 16),
      height: u32(b, 20),
      depth: b[24],
      interlaced: b[28] !== 0,
    };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let p = 2;
    while (p + 4 <= b.length) {
      if (b[p] !== 0xff) break;
      const m = b[p + 1];
      if (m === 0xff) { // fill byte
        p++;
        continue;
      }
      if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) { // markers without a length
        p += 2;
        continue;
      }
      if (m === 0xd9 || m === 0xda) break; // end of image or start of scan before any frame
      const isFrame = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
      if (isFrame && p + 10 <= b.length) {
        return {
          format: "jpeg",
          height: u16(b, p + 5),
          width: u16(b, p + 7),
          components: b[p + 9],
        };
      }
      p += 2 + u16(b, p + 2);
    }
    throw new Error(`${name}: corrupt JPEG: no frame header (SOF) found`);
  }
  const first = Array.from(b.subarray(0, 8), (v) => v.toString(16).padStart(2, "0")).join(" ");
  throw new Error(`${name}: not a PNG or JPEG image (first bytes: ${first || "none, empty"})`);
}

function decodeWith<T>(decode: (b: Uint8Array) => T, b: Uint8Array, what: string, name: string) {
  try {
    return decode(b);
  } catch (e) {
    throw new Error(`${name}: corrupt ${what}: ${e instanceof Error ? e.message : e}`);
  }
}

/** 16-bit samples to their high bytes (Pillow's "RGB;16B", "RGBA;16B", "LA;16B" unpackers). */
function highBytes(data: Uint16Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] >> 8;
  return out;
}

/**
 * Palette indices (1 to 8 bits) or 1/2/4-bit grey, rows starting on a byte, to one pixel per
 * 3 or 1 bytes: palette colours (first 3 of each entry: Pillow's "P" -> "RGB" ignores tRNS
 * alpha) or grey scaled to 0..255 (Pillow's "1", "L;2", "L;4" unpackers).
 */
function unpackRows(png: DecodedPng, name: string): Uint8Array {
  const { width, height, depth, palette } = png;
  const data = png.data as Uint8Array;
  const mask = (1 << depth) - 1, rowBytes = Math.ceil((width * depth) / 8);
  const bands = palette ? 3 : 1;
  const out = new Uint8Array(width * height * bands);
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const v = (data[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
      if (!palette) {
        out[o++] = (v * 255) / mask;
        continue;
      }
      const entry = palette[v];
      if (!entry) throw new Error(`${name}: corrupt PNG: palette index ${v} of ${palette.length}`);
      out[o++] = entry[0], out[o++] = entry[1], out[o++] = entry[2];
    }
  }
  return out;
}

/** Decodes into the layout Pillow opens the file with. */
function decodeToPil(b: Uint8Array, h: Header, name: string): PilImage {
  if (h.format === "jpeg") {
    if (h.components !== 1 && h.components !== 3) {
      throw new Error(
        `${name}: JPEG with ${h.components} components (CMYK/YCCK) is not supported; ` +
          `expected greyscale (1) or colour (3)`,
      );
    }
    const img = decodeWith(decodeJpeg, b, "JPEG", name); // jpeg-js: RGBA, grey replicated
    const bands = h.components;
    return {
      mode: bands === 1 ? "L" : "RGB",
      raster: {
        width: img.width,
        height: img.height,
        data: img.getRawImage().data as Uint8Array,
        stride: 4,
      },
      bands,
      alpha: "none",
      nearest: false,
    };
  }
  if (h.depth < 8 && h.interlaced) {
    throw new Error(`${name}: interlaced PNG with ${h.depth}-bit samples is not supported`);
  }
  const png = decodeWith(decodePng, b, "PNG", name);
  const { width, height, depth, channels } = png;
  const image = (data: Uint8Array | Uint16Array, stride: number) => ({
    width,
    height,
    data,
    stride,
  });
  const plain = { alpha: "none" as const, nearest: false };
  if (png.palette) {
    return {
      mode: "P",
      raster: image(unpackRows(png, name), 3),
      bands: 3,
      alpha: "none",
      nearest: true,
    };
  }
  if (depth < 8) { // 1-bit opens as "1" (resized with nearest), 2/4-bit as "L"
    return {
      mode: depth === 1 ? "1" : "L",
      raster: image(unpackRows(png, name), 1),
      bands: 1,
      alpha: "none",
      nearest: depth === 1,
    };
  }
  const data = png.data as Uint8Array | Uint16Array;
  const eight = data instanceof Uint16Array ? highBytes(data) : data;
  switch (channels) {
    case 1: // 16-bit greyscale opens as 32-bit "I" with values 0..65535
      return depth === 16
        ? { mode: "I", raster: image(data, 1), bands: 1, ...plain }
        : { mode: "L", raster: image(eight, 1), bands: 1, ...plain };
    case 2: // 8-bit opens as "LA"; 16-bit as "RGBA" (grey replicated), resized with its rule
      return {
        mode: depth === 16 ? "RGBA" : "LA",
        raster: image(eight, 2),
        bands: 2,
        alpha: depth === 16 ? "RGBA" : "LA",
        nearest: false,
      };
    case 3:
      return { mode: "RGB", raster: image(eight, 3), bands: 3, ...plain };
    default:
      return { mode: "RGBA", raster: image(eight, 4), bands: 4, alpha: "RGBA", nearest: false };
  }
}

/** Pillow's MULDIV255: round(a * b / 255) in integers. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** Pillow's "RGBA" -> "RGBa" / "LA" -> "La" (in place): colour times alpha / 255. */
function premultiply(r: Raster<Uint8Array>, bands: number): void {
  const { data, stride } = r;
  const a = bands - 1;
  for (let p = 0; p < data.length; p += stride) {
    const alpha = data[p + a];
    for (let c = 0; c < a; c++) data[p + c] = mulDiv255(data[p + c], alpha);
  }
}

/** Pillow's "RGBa" -> "RGBA" and "La" -> "LA" (in place; they differ where alpha is 0). */
function unpremultiply(r: Raster<Uint8Array>, bands: number, rule: "LA" | "RGBA"): void {
  const { data, stride } = r;
  const a = bands - 1;
  for (let p = 0; p < data.length; p += stride) {
    const alpha = data[p + a];
    if (alpha === 255 || (alpha === 0 && rule === "RGBA")) continue;
    for (let c = 0; c < a; c++) {
      data[p + c] = alpha === 0 ? 0 : Math.min(Math.trunc((255 * data[p + c]) / alpha), 255);
    }
  }
}

/** The window of `src` itself (no resize): copies the first `bands` samples. */
function copyWindow<T extends Uint8Array | Uint16Array>(
  src: Raster<T>,
  bands: number,
  win: ResizeWindow,
): Raster<Uint8Array | Uint16Array> {
  const out = src.data instanceof Uint16Array
    ? new Uint16Array(win.width * win.height * bands)
    : new Uint8Array(win.width * win.height * bands);
  let o = 0;
  for (let y = win.top; y < win.top + win.height; y++) {
    for (let x = win.left; x < win.left + win.width; x++) {
      const p = (y * src.width + x) * src.stride;
      for (let b = 0; b < bands; b++) out[o++] = src.data[p + b];
    }
  }
  return { width: win.width, height: win.height, data: out, stride: bands };
}

/** Python's round() for the x.0 / x.5 values a center crop produces: half to even. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

/** torchvision's Resize(S) output size and CenterCrop(S) offsets. */
function cropWindow(width: number, height: number, size: number): ResizeWindow {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((size * long) / short);
  const [outWidth, outHeight] = width <= height ? [size, newLong] : [newLong, size];
  return {
    outWidth,
    outHeight,
    left: roundHalfEven((outWidth - size) / 2),
    top: roundHalfEven((outHeight - size) / 2),
    width: size,
    height: size,
  };
}

function checkOptions(opts: PreprocessOptions) {
  const name = opts.name ?? "image";
  const size = opts.size ?? 224;
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`${name}: size must be an integer >= 1, got ${size}`);
  }
  if (!(maxPixels > 0)) throw new RangeError(`${name}: maxPixels must be > 0, got ${maxPixels}`);
  return { name, size, maxPixels };
}

/**
 * Decodes PNG/JPEG bytes, resizes the shortest side to S, center-crops S×S and converts to RGB
 * exactly as torchvision + Pillow do (steps 1-4 of the module doc): the uint8 image the tensor
 * is made from (also a faithful thumbnail of what the encoder sees).
 * @example
 * ```ts
 * const bytes = await Deno.readFile("tests/fixtures/images/rgba8.png");
 * const rgb = preprocessImageToRgb(bytes, { size: 96 });
 * console.log(rgb.width, rgb.height, rgb.data.length); // 96 96 27648
 * ```
 */
export function preprocessImageToRgb(bytes: Uint8Array, opts: PreprocessOptions = {}): RgbImage {
  const { name, size, maxPixels } = checkOptions(opts);
  const header = readHeader(bytes, name);
  const { width, height } = header;
  if (width < 1 || height < 1) throw new Error(`${name}: image has size ${width}x${height}`);
  if (width * height > maxPixels) {
    throw new Error(
      `${name}: ${width}x${height} = ${width * height} pixels exceeds the limit of ` +
        `${maxPixels} (maxPixels); refusing to decode`,
    );
  }
  const pil = decodeToPil(bytes, header, name);
  const { raster: src, bands } = pil;
  if (src.width !== width || src.height !== height) {
    throw new Error(`${name}: decoded ${src.width}x${src.height}, header says ${width}x${height}`);
  }
  const win = cropWindow(width, height, size);
  let crop: Raster<Uint8Array | Uint16Array | Int32Array>;
  if (win.outWidth === width && win.outHeight === height) {
    crop = copyWindow(src, bands, win);
  } else if (pil.nearest) {
    crop = resizeNearest(src as Raster<Uint8Array>, bands, win);
  } else {
    if (pil.alpha !== "none") premultiply(src as Raster<Uint8Array>, bands);
    crop = resizeBicubic(src, bands, win);
    if (pil.alpha !== "none") unpremultiply(crop as Raster<Uint8Array>, bands, pil.alpha);
  }
  // convert("RGB"): grey replicated, alpha dropped, mode "I" clipped to 0..255
  const colour = pil.alpha === "none" ? bands : bands - 1;
  const out = new Uint8Array(size * size * 3);
  const d = crop.data;
  for (let i = 0, p = 0; i < size * size; i++, p += bands) {
    for (let c = 0; c < 3; c++) {
      const v = d[p + (colour === 1 ? 0 : c)];
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width: size, height: size, data: out };
}

/**
 * ToTensor + Normalize in float32 as torch computes them: `((v / 255) - mean) / std` with every
 * step rounded to float32, HWC uint8 to NCHW (C = 3) Float32Array.
 * @example
 * ```ts
 * const rgb = { width: 1, height: 1, data: new Uint8Array([255, 128, 0]) };
 * const t = rgbToTensor(rgb); // [(1 - 0.4815) / 0.2686, ..., (0 - 0.4082) / 0.2758]
 * ```
 */
export function rgbToTensor(
  rgb: RgbImage,
  opts: Pick<PreprocessOptions, "mean" | "std"> = {},
): Float32Array {
  const mean = opts.mean ?? CLIP_MEAN, std = opts.std ?? CLIP_STD;
  const plane = rgb.width * rgb.height;
  if (rgb.data.length !== plane * 3) {
    throw new RangeError(
      `rgbToTensor: data has ${rgb.data.length} bytes, expected ${plane * 3} for ` +
        `${rgb.width}x${rgb.height}x3`,
    );
  }
  const f = Math.fround;
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(v / 255) - f(mean[c])) / f(std[c]);
  }
  const out = new Float32Array(3 * plane), data = rgb.data;
  for (let c = 0; c < 3; c++) {
    for (let i = 0, o = c * plane, l = c * 256; i < plane; i++) {
      out[o + i] = lut[l + data[i * 3 + c]];
    }
  }
  return out;
}

/**
 * The BiomedCLIP / open_clip image preprocessing of PNG or JPEG bytes: 3×S×S float32 (NCHW
 * without the batch dimension), S = 224 by default.
 * @example
 * ```ts
 * const bytes = await Deno.readFile("tests/fixtures/images/baseline420.jpg");
 * const x = preprocessImage(bytes); // Float32Array(3 * 224 * 224)
 * ```
 */
export function preprocessImage(bytes: Uint8Array, opts: PreprocessOptions = {}): Float32Array {
  return rgbToTensor(preprocessImageToRgb(bytes, opts), opts);
}

/**
 * {@link preprocessImage} of a file; errors name the file.
 * @example
 * ```ts
 * const x = await preprocessImageFile("tests/fixtures/images/rgb16.png", { size: 224 });
 * ```
 */
export async function preprocessImageFile(
  path: string,
  opts: Omit<PreprocessOptions, "name"> = {},
): Promise<Float32Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read image file: ${e instanceof Error ? e.message : e}`);
  }
  return preprocessImage(bytes, { ...opts, name: path });
}
