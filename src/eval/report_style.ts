/**
 * The HTML report's style: a light page of cards, tables with right-aligned tabular numbers,
 * and a two-column grid of pictures that show unscaled at 540 pixels.
 *
 * @module
 */

/**
 * The HTML report's style sheet (inlined, so the report is one self-contained file).
 * @example
 * ```ts
 * const head = `<style>${REPORT_CSS}</style>`;
 * ```
 */
export const REPORT_CSS = `
:root { --ink: #212529; --muted: #5a6068; --line: #dee2e6; --soft: #f6f8fa; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f4; color: var(--ink);
  font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 24px 48px; }
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
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 20px; }
figure { margin: 0; }
figure img { display: block; width: 100%; max-width: 540px; height: auto; margin: 0 auto;
  border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; margin: 6px auto 0; max-width: 540px; }
table.config th, table.config td { padding: 3px 14px; }
table.config th { font-weight: normal; color: var(--muted); }
`;
