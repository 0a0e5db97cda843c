/**
 * Charts drawn by maintained libraries: a Vega-Lite spec is compiled by `vega-lite`, laid out and
 * drawn to SVG headless by `vega`'s `View` (`renderer: "none"`, `toSVG()`), and the SVG is
 * rasterized to PNG by `@resvg/resvg-wasm` with the Inter font's TTF files
 * (`@expo-google-fonts/inter`; resvg reads TTF/OTF, not WOFF2) passed as buffers, so the PNGs
 * look the same on every machine. The HTML reports inline the SVG; the PNGs are the copies for
 * papers and slides.
 *
 * Vega measures text with node-canvas, which Deno lacks; without it Vega guesses 0.8 em per
 * character, which cut legend labels short. Here Vega measures with Inter's advance widths
 * (opentype.js), the font resvg draws with.
 *
 * @module
 */

import { createRequire } from "node:module";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import opentype from "opentype.js";
import * as vega from "vega";
import { compile, type Config, type TopLevelSpec } from "vega-lite";

/** What every chart shares: Inter (any sans-serif in a browser without it) at legible sizes. */
export const CHART_CONFIG: Config = {
  font: "Inter, Helvetica, Arial, sans-serif",
  background: "white",
  padding: 12,
  view: { stroke: "#ced4da" },
  title: { fontSize: 16, fontWeight: 600, anchor: "start", offset: 12, color: "#212529" },
  axis: {
    labelFontSize: 12,
    titleFontSize: 13,
    titleFontWeight: 600,
    labelColor: "#3a3f45",
    titleColor: "#212529",
    gridColor: "#e9ecef",
  },
  legend: {
    labelFontSize: 12,
    titleFontSize: 13,
    titleFontWeight: 600,
    labelLimit: 360,
    symbolSize: 90,
  },
};

/** A chart to draw: its spec, and the name of its PNG copy (`<name>.png`). */
export interface Chart {
  /** File stem of the PNG copy, e.g. `tsne_image_trained`. */
  name: string;
  /** What it shows (the figure's accessible name). */
  title: string;
  /** A sentence under the picture. */
  caption?: string;
  /** The Vega-Lite spec (without `config`: {@link CHART_CONFIG} is applied). */
  spec: TopLevelSpec;
}

/** A drawn {@link Chart}. */
export interface RenderedChart {
  /** File stem of the PNG copy. */
  name: string;
  /** What it shows. */
  title: string;
  /** A sentence under the picture. */
  caption?: string;
  /** The SVG document (inlined in the HTML report). */
  svg: string;
  /** The PNG copy, drawn at twice the SVG's size. */
  png: Uint8Array<ArrayBuffer>;
}

/**
 * Compiles `spec` with {@link CHART_CONFIG} and draws it as an SVG document, headless.
 * @example
 * ```ts
 * const svg = await chartSvg({
 *   data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * svg.startsWith("<svg"); // true
 * ```
 */
export async function chartSvg(chart: TopLevelSpec): Promise<string> {
  const spec = compile({ ...chart, config: CHART_CONFIG } as TopLevelSpec).spec;
  await chartFonts();
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The parts of an opentype.js font used here (the package ships no types). */
interface Font {
  unitsPerEm: number;
  charToGlyph(ch: string): { advanceWidth?: number };
}

/** What Vega passes to a text measure: a text mark's item. */
interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}

let fonts: Promise<Uint8Array[]> | null = null;

/**
 * A text's width in em: the sum of its characters' advances (opentype.js's shaping stops at
 * lookups in Inter that it does not support; kerning changes widths by a few percent at most).
 */
function advances(font: Font): (text: string) => number {
  const em = new Map<string, number>();
  return (text) => {
    let width = 0;
    for (const ch of text) {
      let w = em.get(ch);
      if (w === undefined) {
        w = (font.charToGlyph(ch).advanceWidth ?? 0) / font.unitsPerEm;
        em.set(ch, w);
      }
      width += w;
    }
    return width;
  };
}

/**
 * Reads Inter's regular and semibold TTFs, starts resvg's WebAssembly module and points Vega's
 * text measure at the fonts' advance widths, all once.
 */
function chartFonts(): Promise<Uint8Array[]> {
  fonts ??= (async () => {
    const require = createRequire(import.meta.url);
    const read = (file: string) => Deno.readFile(require.resolve(file));
    await initWasm(await read("@resvg/resvg-wasm/index_bg.wasm"));
    const files = await Promise.all(
      ["400Regular/Inter_400Regular.ttf", "600SemiBold/Inter_600SemiBold.ttf"].map((f) =>
        read(`@expo-google-fonts/inter/${f}`)
      ),
    );
    const [regular, semibold] = files.map((f) => advances(opentype.parse(f.slice().buffer)));
    // textMetrics is exported by vega-scenegraph but missing from vega's types.
    const metrics = (vega as unknown as { textMetrics: { width: unknown } }).textMetrics;
    metrics.width = (item: TextItem, text: unknown) => {
      const bold = Number(item.fontWeight) >= 600 || item.fontWeight === "bold";
      const value = text === null || text === undefined ? "" : String(text);
      return (bold ? semibold : regular)(value) * (item.fontSize ?? 11);
    };
    return files;
  })();
  return fonts;
}

/**
 * Rasterizes an SVG document to PNG at `scale` times its size, with Inter as every font.
 * @example
 * ```ts
 * const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">' +
 *   '<text x="2" y="15" font-family="Inter">Hi</text></svg>';
 * const png = await svgToPng(svg); // 80×40 pixels
 * ```
 */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array<ArrayBuffer>> {
  const fontBuffers = await chartFonts();
  const resvg = new Resvg(svg, {
    font: { fontBuffers, loadSystemFonts: false, defaultFontFamily: "Inter" },
    fitTo: { mode: "zoom", value: scale },
  });
  const image = resvg.render();
  try {
    return new Uint8Array(image.asPng());
  } finally {
    image.free();
    resvg.free();
  }
}

/**
 * Draws a {@link Chart}: the SVG and its PNG copy.
 * @example
 * ```ts
 * const chart = await renderChart({
 *   name: "loss",
 *   title: "Training loss",
 *   spec: {
 *     data: { values: [{ epoch: 1, loss: 2 }, { epoch: 2, loss: 1 }] },
 *     mark: "line",
 *     encoding: {
 *       x: { field: "epoch", type: "quantitative" },
 *       y: { field: "loss", type: "quantitative" },
 *     },
 *   },
 * });
 * chart.png.length > 0; // true
 * ```
 */
export async function renderChart(chart: Chart): Promise<RenderedChart> {
  const svg = await chartSvg(chart.spec);
  return {
    name: chart.name,
    title: chart.title,
    caption: chart.caption,
    svg,
    png: await svgToPng(svg),
  };
}
