/**
 * Bytes and their stand-ins: UTF-8 helpers, the GPT-2 byte-to-unicode table that byte-level
 * BPE vocabularies are written in, and SentencePiece's `<0xXX>` byte-token names.
 */

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68
 * bytes (controls, space, 0x7F-0xA0, 0xAD) take code points 256, 257, ... in byte order,
 * so every byte is one visible, non-space character.
 */
function buildByteToChar(): string[] {
  const table = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
}

/** BYTE_TO_CHAR[b]: the one-character string byte b is written as in a byte-level vocabulary. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** The inverse of BYTE_TO_CHAR, indexed by code point (-1: not a byte stand-in). */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const inv = new Int16Array(324).fill(-1);
  BYTE_TO_CHAR.forEach((ch, b) => {
    inv[ch.codePointAt(0)!] = b;
  });
  return inv;
})();

/** The byte-level spelling of a string's UTF-8 bytes. */
export function byteEncode(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += BYTE_TO_CHAR[b]!;
  return s;
}

/** SentencePiece's name for byte b: `<0x0A>` (upper-case hex, as llama.cpp looks it up). */
export function byteTokenName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** The byte a `<0xXX>` token stands for, read as llama.cpp does (the two hex digits at 3..4). */
export function byteOfTokenName(text: string): number {
  return Number.parseInt(text.slice(3, 5), 16);
}

/**
 * The byte-level spelling of code points [start, end) of `cps`: their UTF-8 bytes, each as
 * its BYTE_TO_CHAR stand-in (llama.cpp's unicode_byte_encoding_process), one UTF-16 unit per byte.
 */
export function byteEncodeCodePoints(cps: Uint32Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const cp = cps[i]!;
    if (cp < 0x80) {
      s += BYTE_TO_CHAR[cp]!;
    } else if (cp < 0x800) {
      s += BYTE_TO_CHAR[0xc0 | (cp >> 6)]! + BYTE_TO_CHAR[0x80 | (cp & 0x3f)]!;
    } else if (cp < 0x10000) {
      s +=
        BYTE_TO_CHAR[0xe0 | (cp >> 12)]! +
        BYTE_TO_CHAR[0x80 | ((cp >> 6) & 0x3f)]! +
        BYTE_TO_CHAR[0x80 | (cp & 0x3f)]!;
    } else {
      s +=
        BYTE_TO_CHAR[0xf0 | (cp >> 18)]! +
        BYTE_TO_CHAR[0x80 | ((cp >> 12) & 0x3f)]! +
        BYTE_TO_CHAR[0x80 | ((cp >> 6) & 0x3f)]! +
        BYTE_TO_CHAR[0x80 | (cp & 0x3f)]!;
    }
  }
  return s;
}
