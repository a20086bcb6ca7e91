/**
 * Code point classes as llama.cpp's pre-tokenizers see them (unicode.cpp's flags): one
 * general category group per code point (letter, number, punctuation, mark, symbol, or
 * "other" for separators, controls and unassigned code points) plus llama.cpp's own
 * whitespace set, which is not JavaScript's `\s` (it has U+0085 and lacks U+FEFF).
 *
 * The categories come from the JS engine's Unicode tables (`\p{L}` ...), llama.cpp's from
 * its generated unicode-data.cpp; they differ only on code points assigned in one Unicode
 * version and not the other.
 */

export const CAT_OTHER = 1;
export const CAT_LETTER = 2;
export const CAT_NUMBER = 3;
export const CAT_PUNCTUATION = 4;
export const CAT_MARK = 5;
export const CAT_SYMBOL = 6;
/** Or-ed onto the category: the code point is in llama.cpp's whitespace set. */
export const WHITESPACE_BIT = 8;
const CATEGORY_MASK = 7;

/** unicode-data.cpp `unicode_set_whitespace`: White_Space from PropList.txt. */
const WHITESPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

const LETTER = /\p{L}/u;
const NUMBER = /\p{N}/u;
const PUNCTUATION = /\p{P}/u;
const MARK = /\p{M}/u;
const SYMBOL = /\p{S}/u;

// Filled on first use per code point (0 = not computed yet): classifying all 1.1M code
// points up front would cost ~100 ms at load for characters most texts never contain.
const flagsCache = new Uint8Array(0x110000);

function computeFlags(cp: number): number {
  const ch = String.fromCodePoint(cp);
  let cat = CAT_OTHER;
  if (LETTER.test(ch)) cat = CAT_LETTER;
  else if (NUMBER.test(ch)) cat = CAT_NUMBER;
  else if (PUNCTUATION.test(ch)) cat = CAT_PUNCTUATION;
  else if (MARK.test(ch)) cat = CAT_MARK;
  else if (SYMBOL.test(ch)) cat = CAT_SYMBOL;
  return cat | (WHITESPACE.has(cp) ? WHITESPACE_BIT : 0);
}

/** Category | WHITESPACE_BIT of a code point (0 ≤ cp ≤ 0x10FFFF). */
export function cpFlags(cp: number): number {
  let f = flagsCache[cp]!;
  if (f === 0) {
    f = computeFlags(cp);
    flagsCache[cp] = f;
  }
  return f;
}

export function cpCategory(cp: number): number {
  return cpFlags(cp) & CATEGORY_MASK;
}

export function isWhitespace(cp: number): boolean {
  return (cpFlags(cp) & WHITESPACE_BIT) !== 0;
}

/**
 * The code points of `text`. Lone surrogates become U+FFFD, which is what llama.cpp sees
 * after such a string is encoded to UTF-8 (it replaces each invalid byte by U+FFFD too).
 */
export function codePointsOf(text: string): Uint32Array {
  const out = new Uint32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out[n++] = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        continue;
      }
    }
    out[n++] = c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
  }
  return out.subarray(0, n);
}

/** A string from code points [start, end) of `cps` (chunked: fromCodePoint takes arguments). */
export function stringOfCodePoints(cps: Uint32Array, start = 0, end = cps.length): string {
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCodePoint(...cps.subarray(i, Math.min(end, i + 4096)));
  }
  return s;
}
