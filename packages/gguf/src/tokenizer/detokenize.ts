/**
 * The parts of llama.cpp's detokenization that are not a table lookup: turning a byte-level
 * token's stand-in characters back into bytes (llama_decode_text), and the
 * clean_up_tokenization_spaces passes llama_detokenize runs for most byte-level vocabularies.
 */

import { CHAR_TO_BYTE, utf8 } from "./bytes.ts";

/**
 * The bytes a byte-level token's text stands for. llama.cpp writes a character that is no
 * stand-in as "[UNK_BYTE_0x<its UTF-8 hex><the token text>]"; so do we.
 */
export function byteLevelDecode(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = cp < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[cp]! : -1;
    if (b >= 0) bytes.push(b);
    else {
      const hex = Array.from(utf8(ch), (x) => x.toString(16).padStart(2, "0")).join("");
      bytes.push(...utf8(`[UNK_BYTE_0x${hex}${text}]`));
    }
  }
  return Uint8Array.from(bytes);
}

/**
 * llama.cpp's clean_up_tokenization_spaces: " ?", " !", " .", " ," lose the space; a lone
 * apostrophe between spaces loses both; " 's", " 'm", " 're", " 've" lose the space.
 */
export function cleanUpSpaces(input: Uint8Array): Uint8Array {
  const SP = 0x20;
  const APOS = 0x27;
  let text = input;
  // Pass 1: space before ? ! . ,
  {
    const out: number[] = text.length > 0 ? [text[0]!] : [];
    for (let i = 1; i < text.length; i++) {
      const x = text[i]!;
      if (text[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) out.pop();
      out.push(x);
    }
    text = Uint8Array.from(out);
  }
  // Pass 2: " ' " becomes "'" (the space after it is consumed and cannot start another match).
  {
    const src = Uint8Array.from(text);
    const out: number[] = src.length > 0 ? [src[0]!] : [];
    for (let i = 1; i < src.length; i++) {
      const x = src[i]!;
      if (x === APOS && i + 1 < src.length && src[i - 1] === SP && src[i + 1] === SP) {
        out.pop();
        src[++i] = 0;
      }
      out.push(x);
    }
    text = Uint8Array.from(out);
  }
  // Pass 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
  {
    const out: number[] = text.length > 0 ? [text[0]!] : [];
    for (let i = 1; i < text.length; i++) {
      const x = text[i]!;
      if (text[i - 1] === SP && x === APOS && i + 1 < text.length) {
        const x1 = text[i + 1];
        const x2 = i + 2 < text.length ? text[i + 2] : -1;
        if (x1 === 0x73 || x1 === 0x6d || ((x1 === 0x72 || x1 === 0x76) && x2 === 0x65)) out.pop();
      }
      out.push(x);
    }
    text = Uint8Array.from(out);
  }
  return text;
}
