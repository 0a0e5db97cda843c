/**
 * A small anti-aliased RGB raster for the report's charts: rectangles, discs, thick lines and
 * text, encoded to PNG with image-js. Text is drawn from the Inter font's glyph outlines
 * (`@fontsource/inter`, SIL OFL 1.1, parsed by opentype.js) and filled with a nonzero-winding
 * scanline rasterizer: exact horizontal coverage, 5 sub-scanlines per pixel row.
 *
 * @module
 */

import { createRequire } from "node:module";
import { encodePng, Image } from "image-js";
import opentype from "opentype.js";

/** An sRGB color, three bytes. */
export type Rgb = readonly [number, number, number];

/** Where a text's anchor sits horizontally on it. */
export type TextAlign = "left" | "center" | "right";
/** Where a text's anchor sits vertically on it (its line box: ascender to descender). */
export type TextBaseline = "top" | "middle" | "bottom";

/** How {@link Raster.text} draws. */
export interface TextStyle {
  /** Font size in pixels (em size). */
  size: number;
  /** Color (default near-black). */
  color?: Rgb;
  /** Semi-bold weight. */
  bold?: boolean;
  /** Horizontal anchor (default `left`). */
  align?: TextAlign;
  /** Vertical anchor (default `top`). */
  baseline?: TextBaseline;
  /** Rotate 90° counter-clockwise about the anchor (for vertical axis labels). */
  rotate?: boolean;
}

/** The parts of an opentype.js font used here (the package ships no types). */
interface Font {
  unitsPerEm: number;
  ascender: number;
  descender: number;
  charToGlyph(ch: string): Glyph;
}
interface Glyph {
  advanceWidth?: number;
  getPath(x: number, y: number, size: number): { commands: PathCommand[] };
}
type PathCommand =
  | { type: "M" | "L"; x: number; y: number }
  | { type: "Q"; x1: number; y1: number; x: number; y: number }
  | { type: "C"; x1: number; y1: number; x2: number; y2: number; x: number; y: number }
  | { type: "Z" };

const SUB_SCANLINES = 5;
const CURVE_SEGMENTS = 8;
const INK: Rgb = [33, 37, 41];
const fonts = new Map<string, Font>();

function font(bold: boolean): Font {
  const file = `inter-latin-${bold ? 600 : 400}-normal.woff`;
  let f = fonts.get(file);
  if (!f) {
    const path = createRequire(import.meta.url).resolve(`@fontsource/inter/files/${file}`);
    f = opentype.parse(Deno.readFileSync(path).buffer) as Font;
    fonts.set(file, f);
  }
  return f;
}

/**
 * An RGB image being drawn on; coordinates are pixels from the top-left corner, and a pixel's
 * center is at (x + 0.5, y + 0.5).
 * @example
 * ```ts
 * const r = new Raster(200, 100, [255, 255, 255]);
 * r.line(10, 90, 190, 10, 2, [0, 114, 178]);
 * r.text("hello", 100, 50, { size: 16, align: "center", baseline: "middle" });
 * const png: Uint8Array = r.png();
 * ```
 */
export class Raster {
  /** RGB bytes, row-major. */
  readonly data: Uint8Array<ArrayBuffer>;

  /**
   * @param width pixels
   * @param height pixels
   * @param background fill color
   */
  constructor(readonly width: number, readonly height: number, background: Rgb) {
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
      throw new Error(`raster size must be positive integers, got ${width}×${height}`);
    }
    this.data = new Uint8Array(width * height * 3);
    for (let k = 0; k < this.data.length; k += 3) this.data.set(background, k);
  }

  /** Blends `color` over pixel (x, y) with opacity `alpha`; outside pixels are ignored. */
  blend(x: number, y: number, color: Rgb, alpha: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || !(alpha > 0)) return;
    const a = Math.min(alpha, 1), k = (y * this.width + x) * 3, d = this.data;
    d[k] = Math.round(d[k] + (color[0] - d[k]) * a);
    d[k + 1] = Math.round(d[k + 1] + (color[1] - d[k + 1]) * a);
    d[k + 2] = Math.round(d[k + 2] + (color[2] - d[k + 2]) * a);
  }

  /** Fills the pixels whose centers lie in [x0, x1) × [y0, y1). */
  rect(x0: number, y0: number, x1: number, y1: number, color: Rgb, alpha = 1): void {
    for (let y = Math.round(y0); y < Math.round(y1); y++) {
      for (let x = Math.round(x0); x < Math.round(x1); x++) this.blend(x, y, color, alpha);
    }
  }

  /** An anti-aliased filled disc. */
  disc(cx: number, cy: number, radius: number, color: Rgb, alpha = 1): void {
    for (let y = Math.floor(cy - radius - 1); y <= Math.ceil(cy + radius + 1); y++) {
      for (let x = Math.floor(cx - radius - 1); x <= Math.ceil(cx + radius + 1); x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        this.blend(x, y, color, alpha * clamp01(radius + 0.5 - d));
      }
    }
  }

  /** An anti-aliased line segment `width` pixels thick, with round caps. */
  line(x0: number, y0: number, x1: number, y1: number, width: number, color: Rgb, alpha = 1) {
    const half = width / 2, dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (let y = Math.floor(Math.min(y0, y1) - half - 1); y <= Math.max(y0, y1) + half + 1; y++) {
      for (let x = Math.floor(Math.min(x0, x1) - half - 1); x <= Math.max(x0, x1) + half + 1; x++) {
        const px = x + 0.5 - x0, py = y + 0.5 - y0;
        const t = len2 > 0 ? clamp01((px * dx + py * dy) / len2) : 0;
        const d = Math.hypot(px - t * dx, py - t * dy);
        this.blend(x, y, color, alpha * clamp01(half + 0.5 - d));
      }
    }
  }

  /** Width in pixels of `text` at `size` pixels. */
  measure(text: string, size: number, bold = false): number {
    const f = font(bold);
    let w = 0;
    for (const ch of text) w += (f.charToGlyph(ch).advanceWidth ?? 0) * size / f.unitsPerEm;
    return w;
  }

  /** Draws `text` anchored at (x, y). */
  text(text: string, x: number, y: number, style: TextStyle): void {
    const { size, color = INK, bold = false, align = "left", baseline = "top" } = style;
    const f = font(bold), scale = size / f.unitsPerEm;
    const w = Math.ceil(this.measure(text, size, bold)) + 2;
    const h = Math.ceil((f.ascender - f.descender) * scale) + 2;
    const mask = new Float32Array(w * h);
    let pen = 1;
    for (const ch of text) {
      const glyph = f.charToGlyph(ch);
      fillPath(glyph.getPath(pen, 1 + f.ascender * scale, size).commands, mask, w, h);
      pen += (glyph.advanceWidth ?? 0) * scale;
    }
    const left = Math.round(-w * { left: 0, center: 0.5, right: 1 }[align]);
    const top = Math.round(-h * { top: 0, middle: 0.5, bottom: 1 }[baseline]);
    const ax = Math.round(x), ay = Math.round(y);
    for (let my = 0; my < h; my++) {
      for (let mx = 0; mx < w; mx++) {
        const c = mask[my * w + mx];
        if (c <= 0) continue;
        if (style.rotate) this.blend(ax + top + my, ay - left - mx - 1, color, c);
        else this.blend(ax + left + mx, ay + top + my, color, c);
      }
    }
  }

  /** The image as PNG bytes. */
  png(): Uint8Array {
    return encodePng(new Image(this.width, this.height, { data: this.data, colorModel: "RGB" }));
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Adds the coverage (0..1) of a glyph outline to a w×h mask, nonzero winding rule. */
function fillPath(commands: PathCommand[], mask: Float32Array, w: number, h: number): void {
  const edges: number[] = []; // x0, y0, x1, y1 per edge
  let sx = 0, sy = 0, cx = 0, cy = 0;
  const to = (x: number, y: number) => {
    if (y !== cy) edges.push(cx, cy, x, y);
    cx = x;
    cy = y;
  };
  for (const c of commands) {
    if (c.type === "M") {
      to(sx, sy);
      sx = cx = c.x;
      sy = cy = c.y;
    } else if (c.type === "L") to(c.x, c.y);
    else if (c.type === "Q" || c.type === "C") {
      const x0 = cx, y0 = cy;
      for (let s = 1; s <= CURVE_SEGMENTS; s++) {
        const t = s / CURVE_SEGMENTS, u = 1 - t;
        if (c.type === "Q") {
          to(
            u * u * x0 + 2 * u * t * c.x1 + t * t * c.x,
            u * u * y0 + 2 * u * t * c.y1 + t * t * c.y,
          );
        } else {
          const a = u * u * u, b = 3 * u * u * t, d = 3 * u * t * t, e = t * t * t;
          to(a * x0 + b * c.x1 + d * c.x2 + e * c.x, a * y0 + b * c.y1 + d * c.y2 + e * c.y);
        }
      }
    } else to(sx, sy);
  }
  to(sx, sy);
  if (edges.length === 0) return;
  let ymin = Infinity, ymax = -Infinity;
  for (let k = 1; k < edges.length; k += 2) {
    ymin = Math.min(ymin, edges[k]);
    ymax = Math.max(ymax, edges[k]);
  }
  const crossings: [number, number][] = [];
  for (let row = Math.max(0, Math.floor(ymin)); row < Math.min(h, Math.ceil(ymax)); row++) {
    for (let s = 0; s < SUB_SCANLINES; s++) {
      const yy = row + (s + 0.5) / SUB_SCANLINES;
      crossings.length = 0;
      for (let k = 0; k < edges.length; k += 4) {
        const y0 = edges[k + 1], y1 = edges[k + 3];
        if ((yy >= y0 && yy < y1) || (yy >= y1 && yy < y0)) {
          const x = edges[k] + ((yy - y0) * (edges[k + 2] - edges[k])) / (y1 - y0);
          crossings.push([x, y1 > y0 ? 1 : -1]);
        }
      }
      crossings.sort((a, b) => a[0] - b[0]);
      let winding = 0, start = 0;
      for (const [x, dir] of crossings) {
        if (winding === 0) start = x;
        winding += dir;
        if (winding === 0) addSpan(mask, row * w, w, start, x, 1 / SUB_SCANLINES);
      }
    }
  }
}

/** Adds `weight` times the horizontal overlap of [x0, x1) with each pixel of one mask row. */
function addSpan(
  mask: Float32Array,
  row: number,
  w: number,
  x0: number,
  x1: number,
  weight: number,
) {
  const a = Math.max(0, x0), b = Math.min(w, x1);
  for (let x = Math.floor(a); x < b; x++) {
    const overlap = Math.min(b, x + 1) - Math.max(a, x);
    if (overlap > 0) mask[row + x] = Math.min(1, mask[row + x] + overlap * weight);
  }
}
