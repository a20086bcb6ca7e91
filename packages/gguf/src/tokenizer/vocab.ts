/**
 * A vocabulary as llama.cpp holds it: token texts and the reverse map, scores, per-token
 * attributes from the GGUF token types, the byte tokens, and the special-token list used to
 * cut text before tokenizing.
 */

import { LlmemError } from "@llmem/core";
import { BYTE_TO_CHAR, byteTokenName, utf8 } from "./bytes.ts";

/** GGUF `tokenizer.ggml.token_type` values (llama.h `llama_token_type`). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

/** Attribute bits (llama.h `llama_token_attr`); a token has exactly one of the first six. */
export const Attr = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
} as const;

const ATTR_OF_TYPE: readonly number[] = [
  Attr.UNDEFINED,
  Attr.NORMAL,
  Attr.UNKNOWN,
  Attr.CONTROL,
  Attr.USER_DEFINED,
  Attr.UNUSED,
  Attr.BYTE,
];

export type VocabModel = "llama" | "gpt2";

export interface VocabInput {
  readonly model: VocabModel;
  readonly tokens: readonly string[];
  readonly scores?: ArrayLike<number>;
  readonly tokenTypes?: ArrayLike<number>;
  readonly lstrip?: readonly number[];
  readonly rstrip?: readonly number[];
}

export class Vocab {
  readonly model: VocabModel;
  readonly texts: readonly string[];
  readonly scores: Float32Array;
  readonly attrs: Uint16Array;
  /** Longest token text in UTF-16 units: no longer candidate needs a map lookup. */
  readonly maxTokenLength: number;
  /**
   * Control, user-defined and unknown tokens, longest text (in UTF-8 bytes) first: the
   * order llama.cpp cuts them out of text in (ties, unordered there, go by id here).
   */
  readonly specialIds: readonly number[];
  private readonly ids: Map<string, number>;
  /** The token of each byte, or -1 (SentencePiece: `<0xXX>`; byte-level: the stand-in char). */
  readonly byteTokens: Int32Array;

  constructor(input: VocabInput) {
    const n = input.tokens.length;
    this.model = input.model;
    const texts = new Array<string>(n);
    this.ids = new Map();
    let maxLen = 0;
    for (let i = 0; i < n; i++) {
      // llama.cpp renames empty tokens so that none collides with another.
      const text = input.tokens[i] === "" ? `[EMPTY_${i}]` : input.tokens[i]!;
      if (this.ids.has(text)) {
        throw new LlmemError(
          "FORMAT_ERROR",
          `tokenizer.ggml.tokens: token ${i} ${JSON.stringify(text)} repeats token ${this.ids.get(text)}`,
          { key: "tokenizer.ggml.tokens", index: i },
        );
      }
      texts[i] = text;
      this.ids.set(text, i);
      if (text.length > maxLen) maxLen = text.length;
    }
    this.texts = texts;
    this.maxTokenLength = maxLen;
    this.scores = new Float32Array(n);
    if (input.scores !== undefined) this.scores.set(input.scores);
    this.attrs = new Uint16Array(n).fill(Attr.NORMAL);
    if (input.tokenTypes !== undefined) {
      for (let i = 0; i < n; i++) this.attrs[i] = ATTR_OF_TYPE[input.tokenTypes[i]!] ?? Attr.UNDEFINED;
    }
    for (const id of input.lstrip ?? []) this.attrs[id]! |= Attr.LSTRIP;
    for (const id of input.rstrip ?? []) this.attrs[id]! |= Attr.RSTRIP;

    const special: number[] = [];
    for (let i = 0; i < n; i++) {
      if (this.attrs[i]! & (Attr.CONTROL | Attr.USER_DEFINED | Attr.UNKNOWN)) special.push(i);
    }
    const bytes = special.map((id) => utf8(texts[id]!).length);
    const order = special.map((_, k) => k).sort((a, b) => bytes[b]! - bytes[a]! || special[a]! - special[b]!);
    this.specialIds = order.map((k) => special[k]!);

    this.byteTokens = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      if (this.model === "llama") {
        // `<0xXX>` first, then the byte itself as a one-character token (llama.cpp byte_to_token).
        this.byteTokens[b] =
          this.ids.get(byteTokenName(b)) ?? (b < 0x80 ? this.ids.get(String.fromCharCode(b)) : -1) ?? -1;
      } else {
        this.byteTokens[b] = this.ids.get(BYTE_TO_CHAR[b]!) ?? -1;
      }
    }
  }

  get size(): number {
    return this.texts.length;
  }

  /** The id of the token spelled `text`, or -1. */
  idOf(text: string): number {
    return this.ids.get(text) ?? -1;
  }

  /** Control or unknown: produced from text only when special tokens are parsed. */
  isSpecial(id: number): boolean {
    return (this.attrs[id]! & (Attr.CONTROL | Attr.UNKNOWN)) !== 0;
  }

  has(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.texts.length;
  }
}
