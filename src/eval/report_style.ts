/**
 * The HTML report's style: a light page of cards in Inter (the charts' font, inlined as WOFF2
 * from `@fontsource/inter`), tables with right-aligned tabular numbers, and a two-column grid of
 * charts shown at their size (scaled down only in a narrower window), captions as wide as them.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRequire } from "node:module";

/** Inter's Latin subset in the weights the charts use, as `@font-face` rules with data URLs. */
function fontFaces(): string {
  const require = createRequire(import.meta.url);
  return [400, 600].map((weight) => {
    const file = require.resolve(`@fontsource/inter/files/inter-latin-${weight}-normal.woff2`);
    const data = Buffer.from(Deno.readFileSync(file)).toString("base64");
    return `@font-face { font-family: Inter; font-style: normal; font-weight: ${weight}; ` +
      `font-display: block; src: url(data:font/woff2;base64,${data}) format("woff2"); }`;
  }).join("\n");
}

let css: string | null = null;

/**
 * The HTML report's style sheet with its fonts (inlined, so the report is one self-contained
 * file; about 65 kB).
 * @example
 * ```ts
 * const head = `<style>${reportCss()}</style>`;
 * ```
 */
export function reportCss(): string {
  css ??= fontFaces() + REPORT_RULES;
  return css;
}

const REPORT_RULES = `
:root { --ink: #212529; --muted: #5a6068; --line: #dee2e6; --soft: #f6f8fa; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f4; color: var(--ink);
  font: 15px/1.5 Inter, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 32px 24px 48px; }
header { margin-bottom: 8px; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
.meta { color: var(--muted); margin: 0; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; margin-top: 20px; }
h2 { font-size: 19px; margin: 0 0 12px; padding-bottom: 8px; border-bottom: 2px solid var(--accent); }
p { margin: 8px 0; }
table { border-collapse: collapse; margin: 12px 0 4px; }
th, td { padding: 6px 14px; border-bottom: 1px solid var(--line); text-align: left; }
thead th { background: var(--soft); font-weight: 600; border-bottom: 2px solid var(--line); }
tbody tr:nth-child(even) { background: #fafbfc; }
table.num td { text-align: right; font-variant-numeric: tabular-nums; }
table.num thead th:not(:first-child) { text-align: right; }
table.metrics { width: 100%; }
tr.total th, tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
code { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.dir { color: var(--muted); font-size: 12px; }
.facts { list-style: none; padding: 0; margin: 8px 0; display: flex; flex-wrap: wrap; gap: 8px; }
.facts li { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 2px 10px; }
.facts span { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 24px; }
figure { display: table; margin: 0 auto; }
figure svg { display: block; max-width: 100%; height: auto;
  border: 1px solid var(--line); border-radius: 6px; }
figcaption { display: table-caption; caption-side: bottom; color: var(--muted); font-size: 13px;
  margin-top: 6px; }
dl.definitions { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; }
dl.definitions dt { font-weight: 600; }
dl.definitions dd { margin: 0; }
table.config th, table.config td { padding: 3px 14px; }
table.config th { font-weight: normal; color: var(--muted); }
`;
