/**
 * Code point classes as llama.cpp's pre-tokenizers see them (unicode.cpp's flags): one
 * general category group per code point (letter, number, punctuation, mark, symbol, or
 * "other" for separators, controls and unassigned code points) plus llama.cpp's own
 * whitespace set, which is not JavaScript's `\s` (it has U+0085 and lacks U+FEFF).
 *
 * The categories come from the JS engine's Unicode tables (`\p{L}` ...), except for code
 * points llama.cpp's own tables (unicode-data.cpp at c392e50, Unicode 15.1) do not assign
 * yet: those read as unassigned here too, so text in scripts added since splits the same.
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

/**
 * Code point ranges (inclusive) assigned in the Unicode version Bun 1.4.5 knows but not in
 * llama.cpp's tables: every code point where the two disagreed when all 0x110000 were
 * compared (with this list, none do; a later Bun may know more).
 */
const ASSIGNED_AFTER_LLAMA_CPP: readonly (readonly [number, number])[] = [
  [0x88f, 0x88f],
  [0x897, 0x897],
  [0xc5c, 0xc5c],
  [0xcdc, 0xcdc],
  [0x1acf, 0x1add],
  [0x1ae0, 0x1aeb],
  [0x1b4e, 0x1b4f],
  [0x1b7f, 0x1b7f],
  [0x1c89, 0x1c8a],
  [0x20c1, 0x20c1],
  [0x2427, 0x2429],
  [0x2b96, 0x2b96],
  [0x31e4, 0x31e5],
  [0xa7cb, 0xa7cf],
  [0xa7d2, 0xa7d2],
  [0xa7d4, 0xa7d4],
  [0xa7da, 0xa7dc],
  [0xa7f1, 0xa7f1],
  [0xfbc3, 0xfbd2],
  [0xfd90, 0xfd91],
  [0xfdc8, 0xfdce],
  [0x105c0, 0x105f3],
  [0x10940, 0x10959],
  [0x10d40, 0x10d65],
  [0x10d69, 0x10d85],
  [0x10d8e, 0x10d8f],
  [0x10ec2, 0x10ec7],
  [0x10ed0, 0x10ed8],
  [0x10efa, 0x10efc],
  [0x11380, 0x11389],
  [0x1138b, 0x1138b],
  [0x1138e, 0x1138e],
  [0x11390, 0x113b5],
  [0x113b7, 0x113c0],
  [0x113c2, 0x113c2],
  [0x113c5, 0x113c5],
  [0x113c7, 0x113ca],
  [0x113cc, 0x113d5],
  [0x113d7, 0x113d8],
  [0x113e1, 0x113e2],
  [0x116d0, 0x116e3],
  [0x11b60, 0x11b67],
  [0x11bc0, 0x11be1],
  [0x11bf0, 0x11bf9],
  [0x11db0, 0x11ddb],
  [0x11de0, 0x11de9],
  [0x11f5a, 0x11f5a],
  [0x13460, 0x143fa],
  [0x16100, 0x16139],
  [0x16d40, 0x16d79],
  [0x16ea0, 0x16eb8],
  [0x16ebb, 0x16ed3],
  [0x16ff2, 0x16ff6],
  [0x187f8, 0x187ff],
  [0x18cff, 0x18cff],
  [0x18d09, 0x18d1e],
  [0x18d80, 0x18df2],
  [0x1cc00, 0x1ccfc],
  [0x1cd00, 0x1ceb3],
  [0x1ceba, 0x1ced0],
  [0x1cee0, 0x1cef0],
  [0x1e5d0, 0x1e5fa],
  [0x1e5ff, 0x1e5ff],
  [0x1e6c0, 0x1e6de],
  [0x1e6e0, 0x1e6f5],
  [0x1e6fe, 0x1e6ff],
  [0x1f6d8, 0x1f6d8],
  [0x1f777, 0x1f77a],
  [0x1f8b2, 0x1f8bb],
  [0x1f8c0, 0x1f8c1],
  [0x1f8d0, 0x1f8d8],
  [0x1fa54, 0x1fa57],
  [0x1fa89, 0x1fa8a],
  [0x1fa8e, 0x1fa8f],
  [0x1fabe, 0x1fabe],
  [0x1fac6, 0x1fac6],
  [0x1fac8, 0x1fac8],
  [0x1facd, 0x1facd],
  [0x1fadc, 0x1fadc],
  [0x1fadf, 0x1fadf],
  [0x1fae9, 0x1faea],
  [0x1faef, 0x1faef],
  [0x1fbcb, 0x1fbef],
  [0x1fbfa, 0x1fbfa],
  [0x2b73a, 0x2b73f],
  [0x2cea2, 0x2cead],
  [0x323b0, 0x33479],
];

function assignedAfterLlamaCpp(cp: number): boolean {
  let lo = 0;
  let hi = ASSIGNED_AFTER_LLAMA_CPP.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = ASSIGNED_AFTER_LLAMA_CPP[mid]!;
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return true;
  }
  return false;
}

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
  if (assignedAfterLlamaCpp(cp)) cat = CAT_OTHER;
  else if (LETTER.test(ch)) cat = CAT_LETTER;
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
