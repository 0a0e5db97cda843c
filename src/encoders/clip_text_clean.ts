/**
 * The text cleaning open_clip's `SimpleTokenizer` applies before BPE (its `clean="lower"`):
 * `whitespace_clean(basic_clean(text)).lower()`, where `basic_clean` is
 * `html.unescape(html.unescape(ftfy.fix_text(text))).strip()` and `whitespace_clean` joins the
 * text's whitespace-separated words with single spaces.
 *
 * `ftfy.fix_text` is reproduced for everything except its mojibake repair (`fix_encoding`:
 * detecting text decoded with the wrong codec, e.g. "Ã©" for "é", and re-decoding it), which
 * needs ftfy's codec heuristics; such text keeps its mojibake here. The rest follows ftfy 6.3
 * step by step, per line, repeated until nothing changes: HTML entities ending in ";" (also the
 * all-caps forms of lower-case names, unless any line so far contained "<"), C1 controls read as
 * Windows-1252, Latin ligatures, full/half-width forms, curly quotes, line breaks, lone
 * surrogates, terminal escapes, control characters, then NFC. Python's `html.unescape` is
 * reproduced exactly: its numeric rules are written out here, and named references are decoded
 * by the `entities` package's HTML5 decoder (legacy names without ";" included, as in Python).
 *
 * @module
 */

import { decodeHTML } from "entities";

/** C1 controls as Windows-1252 (Python's `_invalid_charrefs` and ftfy's sloppy-windows-1252). */
const C1 =
  "\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f" +
  "\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178";

/** Code points Python's `html.unescape` drops when written as numeric references. */
function droppedCodepoint(n: number): boolean {
  return (n >= 0x1 && n <= 0x8) || n === 0xb || (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) || (n >= 0xfdd0 && n <= 0xfdef) || (n & 0xfffe) === 0xfffe;
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/**
 * Python's `html.unescape`: numeric references (with its replacements for 0, CR, C1 controls,
 * surrogates and out-of-range numbers, and its dropped code points) and HTML5 named references.
 * @example
 * ```ts
 * htmlUnescape("&lt;5 mm &amp;amp; &#8364;&#128;"); // "<5 mm &amp; €€"
 * ```
 */
export function htmlUnescape(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(CHARREF, (whole, ref: string) => {
    if (ref[0] !== "#") return decodeHTML(whole);
    const hex = ref[1] === "x" || ref[1] === "X";
    const digits = ref.slice(hex ? 2 : 1).replace(/;$/, "");
    const n = parseInt(digits, hex ? 16 : 10);
    if (n === 0) return "\ufffd";
    if (n === 0x0d) return "\r";
    if (n >= 0x80 && n <= 0x9f) return C1[n - 0x80];
    if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return "\ufffd";
    if (droppedCodepoint(n)) return "";
    return String.fromCodePoint(n);
  });
}

const HTML_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's `unescape_html`: only references ending in ";", plus all-caps names of lower-case ones. */
function ftfyUnescape(text: string): string {
  return text.replace(HTML_ENTITY, (ref) => {
    if (ref[1] === "#") {
      const out = htmlUnescape(ref);
      return out.includes(";") ? ref : out;
    }
    const decoded = decodeHTML(ref);
    if (decoded !== ref && !decoded.endsWith(";")) return decoded; // a whole named reference
    const lower = ref.toLowerCase();
    if (ref === ref.toUpperCase() && lower !== ref && decoded === ref) {
      const char = decodeHTML(lower);
      if (char !== lower && !char.endsWith(";")) return char.toUpperCase();
    }
    return ref;
  });
}

const LIGATURES: Record<string, string> = {
  "\u0132": "IJ",
  "\u0133": "ij",
  "\u0149": "\u02bcn",
  "\u01f1": "DZ",
  "\u01f2": "Dz",
  "\u01f3": "dz",
  "\u01c4": "D\u017d",
  "\u01c5": "D\u017e",
  "\u01c6": "d\u017e",
  "\u01c7": "LJ",
  "\u01c8": "Lj",
  "\u01c9": "lj",
  "\u01ca": "NJ",
  "\u01cb": "Nj",
  "\u01cc": "nj",
  "\ufb00": "ff",
  "\ufb01": "fi",
  "\ufb02": "fl",
  "\ufb03": "ffi",
  "\ufb04": "ffl",
  "\ufb05": "\u017ft",
  "\ufb06": "st",
};
const LIGATURE = new RegExp(`[${Object.keys(LIGATURES).join("")}]`, "g");
const WIDE = /[\u3000\uff01-\uffef]/g;
// deno-lint-ignore no-control-regex -- terminal escapes start with ESC
const ANSI = /\x1b\[[\d;]*[a-zA-Z]/g;
// deno-lint-ignore no-control-regex -- removing control characters is the point
const CONTROL = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** One pass of ftfy's fixers over one line (`fix_and_explain` without `fix_encoding`). */
function fixOnce(text: string, unescape: boolean): string {
  if (unescape) text = ftfyUnescape(text);
  text = text
    .replace(/[\x80-\x9f]/g, (c) => C1[c.charCodeAt(0) - 0x80])
    .replace(LIGATURE, (c) => LIGATURES[c])
    .replace(WIDE, (c) => c === "\u3000" ? " " : c.normalize("NFKC"))
    .replace(/[\u02bc\u2018-\u201b]/g, "'")
    .replace(/[\u201c-\u201f]/g, '"')
    .replace(/\r\n?|[\u2028\u2029\x85]/g, "\n")
    .replace(LONE_SURROGATE, "\ufffd")
    .replace(ANSI, "")
    .replace(CONTROL, "");
  return text.normalize("NFC");
}

/**
 * `ftfy.fix_text` without mojibake repair (see the module doc): line by line, each line fixed
 * until it no longer changes; HTML references are left alone from the first line containing "<"
 * on.
 * @example
 * ```ts
 * fixText("\u201cﬁne\u201d &amp; ＡＢＣ"); // '"fine" & ABC'
 * ```
 */
export function fixText(text: string): string {
  let unescape = true, out = "";
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    if (line.includes("<")) unescape = false;
    let fixed = line, previous;
    do {
      previous = fixed;
      fixed = fixOnce(fixed, unescape);
    } while (fixed !== previous);
    out += fixed;
  }
  return out;
}

/** Python's `str.isspace()` characters (what `str.split()` and `str.strip()` split on). */
const PY_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPACES = new RegExp(`[${PY_SPACE}]+`, "g");
const EDGE_SPACES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");

/**
 * open_clip's `_clean_lower`: `whitespace_clean(basic_clean(text)).lower()`.
 * @example
 * ```ts
 * cleanLower("  Heart size &amp;gt; normal.\r\n\tNo  effusion "); // "heart size > normal. no effusion"
 * ```
 */
export function cleanLower(text: string): string {
  const basic = htmlUnescape(htmlUnescape(fixText(text))).replace(EDGE_SPACES, "");
  return basic.split(SPACES).filter((w) => w !== "").join(" ").toLowerCase();
}
