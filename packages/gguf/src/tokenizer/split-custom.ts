/**
 * llama.cpp's hand-written splitters for the two most common pre-tokenizer regexes
 * (unicode.cpp `unicode_regex_split_custom_gpt2` / `_llama3`). llama.cpp uses these instead
 * of a regex engine whenever a vocabulary names exactly those regexes, so matching llama.cpp
 * token for token means scanning the same way, including where the scanners differ from a
 * textbook regex match (llama3's contractions compare lower-cased code points; a run of
 * whitespace before a non-space leaves its last character for the next word).
 *
 * Both take the code points of the whole text and the current segmentation (lengths in
 * code points, summing to the text length) and return the finer segmentation.
 */

import { CAT_LETTER, CAT_NUMBER, cpFlags, WHITESPACE_BIT } from "./unicode.ts";

const APOSTROPHE = 0x27;
const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;

/** Flags that mean "letter", "number" or "whitespace" for the `[^\s\p{L}\p{N}]` tests. */
function isSpaceLetterOrNumber(flags: number): boolean {
  const cat = flags & 7;
  return (flags & WHITESPACE_BIT) !== 0 || cat === CAT_LETTER || cat === CAT_NUMBER;
}

const isLetter = (flags: number) => (flags & 7) === CAT_LETTER;
const isNumber = (flags: number) => (flags & 7) === CAT_NUMBER;
const isSpace = (flags: number) => (flags & WHITESPACE_BIT) !== 0;

/** ASCII lower case; the contraction letters have no other upper-case forms in Unicode. */
function lowerAscii(cp: number): number {
  return cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
}

/** The length (2 or 3) of a contraction `'s 't 'm 'd 're 've 'll` starting at pos, or 0. */
function contractionAt(cps: Uint32Array, pos: number, end: number, fold: (cp: number) => number): number {
  if (cps[pos] !== APOSTROPHE || pos + 1 >= end) return 0;
  const a = fold(cps[pos + 1]!);
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 >= end) return 0;
  const b = fold(cps[pos + 2]!);
  if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  return 0;
}

type Scanner = (cps: Uint32Array, ini: number, end: number, out: number[]) => void;

function splitSegments(cps: Uint32Array, segments: readonly number[], scan: Scanner): number[] {
  const out: number[] = [];
  let start = 0;
  for (const len of segments) {
    scan(cps, start, start + len, out);
    start += len;
  }
  return out;
}

/** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
function scanGpt2(cps: Uint32Array, ini: number, end: number, out: number[]): void {
  // Flags of a position; 0 past the segment's end (llama.cpp's "out of range").
  const flagsAt = (p: number) => (p < end ? cpFlags(cps[p]!) : 0);
  let pos = ini;
  while (pos < end) {
    const start = pos;
    const cp = cps[pos]!;
    const contraction = contractionAt(cps, pos, end, (c) => c);
    if (contraction > 0) {
      out.push(contraction);
      pos += contraction;
      continue;
    }
    // An optional leading space joins the run that follows it.
    let f = cp === SPACE ? flagsAt(pos + 1) : flagsAt(pos);
    if (isLetter(f) || isNumber(f) || (f !== 0 && !isSpaceLetterOrNumber(f))) {
      const sameClass = isLetter(f)
        ? isLetter
        : isNumber(f)
          ? isNumber
          : (g: number) => g !== 0 && !isSpaceLetterOrNumber(g);
      if (cp === SPACE) pos++;
      while (sameClass(f)) f = flagsAt(++pos);
      out.push(pos - start);
      continue;
    }
    let spaces = 0;
    while (isSpace(flagsAt(pos + spaces))) spaces++;
    if (spaces > 1 && pos + spaces < end) {
      // \s+(?!\S): the last space stays for the word after it.
      pos += spaces - 1;
    } else if (spaces > 0) {
      pos += spaces;
    } else {
      pos++;
    }
    out.push(pos - start);
  }
}

/**
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+
 */
function scanLlama3(cps: Uint32Array, ini: number, end: number, out: number[]): void {
  const flagsAt = (p: number) => (p < end ? cpFlags(cps[p]!) : 0);
  const isCrLf = (p: number) => p < end && (cps[p] === CR || cps[p] === LF);
  let pos = ini;
  while (pos < end) {
    const start = pos;
    const cp = cps[pos]!;
    const flags = flagsAt(pos);
    const contraction = contractionAt(cps, pos, end, lowerAscii);
    if (contraction > 0) {
      out.push(contraction);
      pos += contraction;
      continue;
    }
    if (cp !== CR && cp !== LF && !isNumber(flags) && (isLetter(flags) || isLetter(flagsAt(pos + 1)))) {
      pos++;
      while (isLetter(flagsAt(pos))) pos++;
      out.push(pos - start);
      continue;
    }
    if (isNumber(flags)) {
      // Digits in groups of three from the left.
      let groupStart = pos;
      while (isNumber(flagsAt(pos))) {
        pos++;
        if (pos - groupStart >= 3) {
          out.push(pos - groupStart);
          groupStart = pos;
        }
      }
      if (pos > groupStart) out.push(pos - groupStart);
      continue;
    }
    let f = cp === SPACE ? flagsAt(pos + 1) : flags;
    if (!isSpaceLetterOrNumber(f) && flags !== 0) {
      if (cp === SPACE) pos++;
      while (f !== 0 && !isSpaceLetterOrNumber(f)) f = flagsAt(++pos);
      while (isCrLf(pos)) pos++;
      out.push(pos - start);
      continue;
    }
    let spaces = 0;
    let afterLastNewline = -1;
    while (isSpace(flagsAt(pos + spaces))) {
      if (isCrLf(pos + spaces)) afterLastNewline = pos + spaces + 1;
      spaces++;
    }
    if (afterLastNewline >= 0) {
      // \s*[\r\n]+: whitespace up to and including the last newline of the run.
      pos = afterLastNewline;
    } else if (spaces > 1 && pos + spaces < end) {
      pos += spaces - 1;
    } else if (spaces > 0) {
      pos += spaces;
    } else {
      pos++;
    }
    out.push(pos - start);
  }
}

export function splitGpt2(cps: Uint32Array, segments: readonly number[]): number[] {
  return splitSegments(cps, segments, scanGpt2);
}

export function splitLlama3(cps: Uint32Array, segments: readonly number[]): number[] {
  return splitSegments(cps, segments, scanLlama3);
}
