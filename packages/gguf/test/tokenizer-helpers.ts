/** Small hand-built vocabularies for the tokenizer tests. */

import {
  BYTE_TO_CHAR,
  byteTokenName,
  Tokenizer,
  type TokenizerSpec,
  TokenType,
} from "../src/tokenizer/index.ts";

/**
 * A SentencePiece vocabulary: <unk> 0, <s> 1, </s> 2, the 256 byte tokens 3..258, then
 * `pieces` (text, score) in order, then `extra` tokens with their own types.
 */
export function spmSpec(
  pieces: readonly (readonly [string, number])[],
  extra: readonly (readonly [string, TokenType])[] = [],
  overrides: Partial<TokenizerSpec> = {},
): TokenizerSpec {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(byteTokenName(b));
    types.push(TokenType.BYTE);
    scores.push(0);
  }
  for (const [text, score] of pieces) {
    tokens.push(text);
    types.push(TokenType.NORMAL);
    scores.push(score);
  }
  for (const [text, type] of extra) {
    tokens.push(text);
    types.push(type);
    scores.push(0);
  }
  return { model: "llama", tokens, scores, tokenTypes: types, bos: 1, eos: 2, unk: 0, ...overrides };
}

export function spm(
  pieces: readonly (readonly [string, number])[],
  extra: readonly (readonly [string, TokenType])[] = [],
  overrides: Partial<TokenizerSpec> = {},
): Tokenizer {
  return new Tokenizer(spmSpec(pieces, extra, overrides));
}

/**
 * A byte-level BPE vocabulary: the 256 byte stand-ins 0..255, then one token per merge
 * result (in merge order), then <|endoftext|> as a control token. Merges are written with
 * plain characters; spaces in them are spelled as the stand-in Ġ.
 */
export function bpeSpec(
  merges: readonly string[],
  pre = "gpt-2",
  overrides: Partial<TokenizerSpec> = {},
  extra: readonly (readonly [string, TokenType])[] = [],
): TokenizerSpec {
  const tokens = [...BYTE_TO_CHAR];
  const types: number[] = tokens.map(() => TokenType.NORMAL);
  for (const m of merges) {
    const merged = m.replace(" ", "");
    if (!tokens.includes(merged)) {
      tokens.push(merged);
      types.push(TokenType.NORMAL);
    }
  }
  for (const [text, type] of [...extra, ["<|endoftext|>", TokenType.CONTROL] as const]) {
    const at = tokens.indexOf(text);
    if (at >= 0) types[at] = type;
    else {
      tokens.push(text);
      types.push(type);
    }
  }
  const eot = tokens.indexOf("<|endoftext|>");
  return { model: "gpt2", pre, tokens, tokenTypes: types, merges, bos: eot, eos: eot, ...overrides };
}

export function bpe(
  merges: readonly string[],
  pre = "gpt-2",
  overrides: Partial<TokenizerSpec> = {},
  extra: readonly (readonly [string, TokenType])[] = [],
): Tokenizer {
  return new Tokenizer(bpeSpec(merges, pre, overrides, extra));
}

/** The ids of token texts in `tok` (failing loudly on a text that is not a token). */
export function ids(tok: Tokenizer, ...texts: string[]): number[] {
  return texts.map((t) => {
    const id = tok.vocab.idOf(t);
    if (id < 0) throw new Error(`no token ${JSON.stringify(t)}`);
    return id;
  });
}
