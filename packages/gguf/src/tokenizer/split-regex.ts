/**
 * Splitting by a pre-tokenizer regex the way llama.cpp does when it has no hand-written
 * scanner for it (unicode.cpp `unicode_regex_split`): with C++ std::regex, which has no
 * `\p{..}` classes. A regex that uses `\p{N}`, `\p{L}`, `\p{P}`, `\p{M}` or `\p{S}` runs on a
 * "collapsed" text where every non-ASCII code point is replaced by one marker character for
 * its category (whitespace by \v), and each `\p{X}` by a class of that marker plus the ASCII
 * members of X. Any other regex runs on the code points with non-ASCII whitespace replaced
 * by \v. We build the same two texts and the same rewritten regexes and run them with
 * JavaScript's engine (ECMAScript, as std::regex's default grammar), so quirks such as
 * U+0085 counting as `\s` or Arabic digits matching `\p{N}` but not `[0-9]` carry over.
 */

import { LlmemError } from "@llmem/core";
import {
  CAT_LETTER,
  CAT_MARK,
  CAT_NUMBER,
  CAT_PUNCTUATION,
  CAT_SYMBOL,
  cpCategory,
  isWhitespace,
  stringOfCodePoints,
} from "./unicode.ts";

/** Per category: its marker character in collapsed text and its ASCII members (unicode.cpp k_ucat_map). */
const CLASSES: Record<string, { marker: number; ascii: string }> = {
  N: { marker: 0xd1, ascii: "0-9" },
  L: { marker: 0xd2, ascii: "A-Za-z" },
  P: { marker: 0xd3, ascii: "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}" },
  M: { marker: 0xd4, ascii: "" },
  S: { marker: 0xd5, ascii: "\\$\\+<->^`\\|" },
};
const OTHER_MARKER = 0xd0;
const VT = 0x0b;

const CATEGORY_MARKER: Record<number, number> = {
  [CAT_NUMBER]: 0xd1,
  [CAT_LETTER]: 0xd2,
  [CAT_PUNCTUATION]: 0xd3,
  [CAT_MARK]: 0xd4,
  [CAT_SYMBOL]: 0xd5,
};

/** ASCII isspace: what std::regex's `\s` matches in the C locale. */
const C_SPACE = "\\t\\n\\v\\f\\r ";

export function usesCategories(expr: string): boolean {
  return /\\p\{[NLPMS]\}/.test(expr);
}

/**
 * Rewrites a pre-tokenizer regex for one of the two texts. Tracks "inside a bracket class"
 * the way llama.cpp does (an unescaped `[` opens, an unescaped `]` closes; classes do not
 * nest), so `\p{X}` inside a class adds members and outside becomes a class of its own.
 */
function rewrite(expr: string, collapsed: boolean): string {
  let out = "";
  let inside = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i]!;
    if (ch === "[" && (i === 0 || expr[i - 1] !== "\\")) {
      out += ch;
      inside = true;
      continue;
    }
    if (inside && ch === "]" && expr[i - 1] !== "\\") {
      out += ch;
      inside = false;
      continue;
    }
    if (ch === "\\" && collapsed && expr[i + 1] === "p" && expr[i + 2] === "{" && expr[i + 4] === "}") {
      const cls = CLASSES[expr[i + 3]!];
      if (cls === undefined) {
        throw new LlmemError(
          "UNSUPPORTED",
          `pre-tokenizer regex class ${expr.slice(i, i + 5)} is not supported`,
          {
            regex: expr,
          },
        );
      }
      const members = String.fromCharCode(cls.marker) + cls.ascii;
      out += inside ? members : `[${members}]`;
      i += 4;
      continue;
    }
    if (ch === "\\" && expr[i + 1] === "s") {
      // JavaScript's \s also matches U+00A0, U+FEFF...; std::regex's matches ASCII only.
      out += inside ? C_SPACE : `[${C_SPACE}]`;
      i += 1;
      continue;
    }
    if (ch === "\\" && expr[i + 1] === "S" && !inside) {
      out += `[^${C_SPACE}]`;
      i += 1;
      continue;
    }
    if (ch === "\\") {
      // Keep any other escape whole, so `\\` followed by `s` is not read as `\s`.
      out += ch + (expr[i + 1] ?? "");
      i += 1;
      continue;
    }
    out += ch;
  }
  return out;
}

/** One compiled pre-tokenizer regex: which text it runs on and the rewritten pattern. */
export interface CompiledSplitRegex {
  readonly source: string;
  readonly collapsed: boolean;
  readonly regex: RegExp;
}

export function compileSplitRegex(expr: string): CompiledSplitRegex {
  const collapsed = usesCategories(expr);
  if (collapsed && [...expr].some((ch) => ch.codePointAt(0)! > 0x7f)) {
    // llama.cpp refuses these too: the markers would collide with the literal characters.
    throw new LlmemError(
      "UNSUPPORTED",
      `pre-tokenizer regex mixes \\p{..} classes and non-ASCII characters: ${expr}`,
      { regex: expr },
    );
  }
  const pattern = rewrite(expr, collapsed);
  // Collapsed text is one UTF-16 unit per code point: no `u` flag, as std::regex on bytes.
  return { source: expr, collapsed, regex: new RegExp(pattern, collapsed ? "g" : "gu") };
}

/** The collapsed text: one character per code point (see the module comment). */
export function collapseText(cps: Uint32Array): string {
  const units = new Uint16Array(cps.length);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    if (cp < 128) units[i] = cp;
    else if (isWhitespace(cp)) units[i] = VT;
    else units[i] = CATEGORY_MARKER[cpCategory(cp)] ?? OTHER_MARKER;
  }
  let s = "";
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.subarray(i, i + 4096));
  return s;
}

/** The code points with non-ASCII whitespace as \v (what llama.cpp feeds std::wregex). */
function wideText(cps: Uint32Array, start: number, end: number): { text: string; cpAt: Int32Array } {
  const seg = cps.slice(start, end);
  for (let i = 0; i < seg.length; i++) if (seg[i]! > 0x7f && isWhitespace(seg[i]!)) seg[i] = VT;
  const text = stringOfCodePoints(seg);
  // UTF-16 index -> code point index, for turning match positions into code point counts.
  const cpAt = new Int32Array(text.length + 1);
  let k = 0;
  for (let u = 0; u < text.length; u++) {
    cpAt[u] = k;
    const c = text.charCodeAt(u);
    if (c >= 0xd800 && c <= 0xdbff && u + 1 < text.length) {
      cpAt[++u] = k;
    }
    k++;
  }
  cpAt[text.length] = k;
  return { text, cpAt };
}

/**
 * Splits each segment at the regex's matches: every match and every gap between matches
 * becomes a segment of its own (as llama.cpp's unicode_regex_split_stl).
 */
export function splitByRegex(
  cps: Uint32Array,
  segments: readonly number[],
  compiled: CompiledSplitRegex,
  collapsedText: string | undefined,
): number[] {
  const out: number[] = [];
  const { regex } = compiled;
  let start = 0;
  for (const len of segments) {
    let text: string;
    let cpAt: Int32Array | undefined;
    if (compiled.collapsed) {
      text = collapsedText!.slice(start, start + len);
    } else {
      ({ text, cpAt } = wideText(cps, start, start + len));
    }
    const toCp = (u: number) => (cpAt === undefined ? u : cpAt[u]!);
    regex.lastIndex = 0;
    let done = 0; // code points of this segment already emitted
    for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
      if (m[0].length === 0) {
        // None of llama.cpp's regexes can match empty; step over it as std::regex_iterator would.
        regex.lastIndex++;
        continue;
      }
      const mStart = toCp(m.index);
      const mEnd = toCp(m.index + m[0].length);
      if (mStart > done) out.push(mStart - done);
      out.push(mEnd - mStart);
      done = mEnd;
    }
    if (done < len) out.push(len - done);
    start += len;
  }
  return out;
}
