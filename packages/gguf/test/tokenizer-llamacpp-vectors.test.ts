/**
 * Every pre-tokenizer name, checked against llama.cpp itself. No vocabulary fixture exists
 * for most of them (llama-bpe, qwen2, smollm, ...), so the vectors in
 * fixtures/pretokenizer-vectors.json were made outside the project with llama.cpp c392e50:
 *
 * - for each distinct pre-tokenizer (same regexes and flags), a synthetic byte-level
 *   vocabulary: the 256 byte stand-ins; then, for each word in `words` (the words of `texts`
 *   as split when the file was made), every prefix of two or more characters as a token and
 *   the merge "prefix-minus-last last" that builds it, in order (duplicates dropped); then
 *   <|endoftext|> as a control token;
 * - written as a vocab-only GGUF (the metadata of ggml-vocab-gpt-2.gguf with these tokenizer
 *   keys and `tokenizer.ggml.pre` set to the name) and tokenized by
 *   `llama-tokenize -f TEXT --ids --no-bos --no-parse-special --no-escape`: `ids`.
 *
 * When a pre-tokenizer splits a text the way llama.cpp does, BPE over these merges rebuilds
 * the same words; when it splits differently, the words differ and so do the ids.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BYTE_TO_CHAR, Tokenizer, type TokenizerSpec, TokenType } from "../src/index.ts";

interface Vectors {
  texts: string[];
  groups: { pres: string[]; words: string[]; ids: number[][] }[];
}
const vectors: Vectors = JSON.parse(
  readFileSync(join(import.meta.dir, "fixtures", "pretokenizer-vectors.json"), "utf8"),
);

function synthetic(pre: string, words: readonly string[]): TokenizerSpec {
  const tokens = [...BYTE_TO_CHAR];
  const have = new Set(tokens);
  const merges: string[] = [];
  const made = new Set<string>();
  for (const w of words) {
    let prefix = w[0]!;
    for (let i = 1; i < w.length; i++) {
      const merge = `${prefix} ${w[i]}`;
      if (!made.has(merge)) {
        made.add(merge);
        merges.push(merge);
      }
      prefix += w[i];
      if (!have.has(prefix)) {
        have.add(prefix);
        tokens.push(prefix);
      }
    }
  }
  tokens.push("<|endoftext|>");
  const tokenTypes = tokens.map((_, i) => (i === tokens.length - 1 ? TokenType.CONTROL : TokenType.NORMAL));
  const eot = tokens.length - 1;
  return { model: "gpt2", pre, tokens, tokenTypes, merges, bos: eot, eos: eot };
}

describe("pre-tokenizers against llama.cpp's llama-tokenize", () => {
  test("the vectors cover every required pre-tokenizer", () => {
    const names = vectors.groups.flatMap((g) => g.pres);
    for (const pre of [
      "default",
      "gpt-2",
      "llama-bpe",
      "qwen2",
      "smollm",
      "deepseek-coder",
      "falcon",
      "starcoder",
    ]) {
      expect(names).toContain(pre);
    }
  });
  for (const group of vectors.groups) {
    for (const pre of group.pres) {
      test(`${pre}: ${vectors.texts.length} texts`, () => {
        const tok = new Tokenizer(synthetic(pre, group.words));
        const got = vectors.texts.map((text) => tok.encode(text, { addSpecial: false }));
        expect(got).toEqual(group.ids);
      });
    }
  }
});
