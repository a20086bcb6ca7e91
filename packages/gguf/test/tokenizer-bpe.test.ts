import { describe, expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { Tokenizer, TokenType } from "../src/tokenizer/index.ts";
import { bpe, bpeSpec, ids } from "./tokenizer-helpers.ts";

const NO_SPECIAL = { addSpecial: false } as const;

describe("byte-level BPE (gpt2)", () => {
  test("merges apply lowest rank first, through longer tokens", () => {
    const tok = bpe(["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"]);
    expect(tok.encode("hello", NO_SPECIAL)).toEqual(ids(tok, "hello"));
    expect(tok.encode("hello world", NO_SPECIAL)).toEqual(ids(tok, "hello", "Ġwor", "l", "d"));
  });

  test("rank order decides between overlapping pairs; equal pairs go leftmost", () => {
    const llFirst = bpe(["l l", "e l"]);
    expect(llFirst.encode("ell", NO_SPECIAL)).toEqual(ids(llFirst, "e", "ll"));
    const elFirst = bpe(["e l", "l l"]);
    expect(elFirst.encode("ell", NO_SPECIAL)).toEqual(ids(elFirst, "el", "l"));
    const aa = bpe(["a a"]);
    expect(aa.encode("aaa", NO_SPECIAL)).toEqual(ids(aa, "aa", "a"));
  });

  test("merges never cross pre-tokenizer words", () => {
    // "a" + "Ġ" would merge if the space stayed on the left word; GPT-2 puts it on the right.
    const tok = bpe(["a Ġ", "Ġ b"]);
    expect(tok.encode("a b", NO_SPECIAL)).toEqual(ids(tok, "a", "Ġb"));
  });

  test("every byte has a stand-in: any text encodes", () => {
    const tok = bpe([]);
    const bytes = [...new TextEncoder().encode("é\u0000\n€😀")];
    expect(tok.encode("é\u0000\n€😀", NO_SPECIAL)).toEqual(bytes.map((b) => tok.vocab.byteTokens[b]!));
  });

  test("llama-bpe emits a whole word that is a token without merging (ignore_merges)", () => {
    const withWord = bpeSpec(["a b"], "gpt-2", {}, [["abc", TokenType.NORMAL]]);
    const gpt2 = new Tokenizer(withWord);
    expect(gpt2.encode("abc", NO_SPECIAL)).toEqual(ids(gpt2, "ab", "c"));
    const llama3 = new Tokenizer({ ...withWord, pre: "llama-bpe" });
    expect(llama3.encode("abc", NO_SPECIAL)).toEqual(ids(llama3, "abc"));
    // llama-bpe also adds BOS by default, gpt-2 does not.
    expect(llama3.encode("abc")[0]).toBe(llama3.bos!);
    expect(gpt2.encode("abc")).toEqual(ids(gpt2, "ab", "c"));
  });

  test("the control token's text in plain text stays text; parseSpecial makes it the token", () => {
    const tok = bpe([]);
    const eot = tok.vocab.idOf("<|endoftext|>");
    expect(tok.encode("<|endoftext|>", NO_SPECIAL)).not.toContain(eot);
    expect(tok.encode("x<|endoftext|>", { addSpecial: false, parseSpecial: true })).toEqual([
      ...ids(tok, "x"),
      eot,
    ]);
  });

  test("merges that would spell a control token do not produce it", () => {
    // Every pre-tokenizer splits "<|endoftext|>" apart, so use a one-word control token.
    const tok = bpe(["a b", "ab c"], "gpt-2", {}, [["abc", TokenType.CONTROL]]);
    expect(tok.encode("abc", NO_SPECIAL)).toEqual(ids(tok, "a", "b", "c"));
    const llama3 = bpe([], "llama-bpe", {}, [["abc", TokenType.CONTROL]]);
    expect(llama3.encode("abc", NO_SPECIAL)).toEqual(ids(llama3, "a", "b", "c"));
  });

  test("decode: stand-ins back to bytes, split characters reassembled, clean-up as the pre says", () => {
    const tok = bpe(["Ġ ,"]);
    const text = "a , b's 😀 é";
    const encoded = tok.encode(text, NO_SPECIAL);
    // gpt-2 cleans " ," and " 's" like llama.cpp's clean_spaces...
    expect(tok.decode(encoded)).toBe("a, b's 😀 é");
    // ...which can be turned off to get the text back exactly.
    expect(tok.decode(encoded, { cleanSpaces: false })).toBe(text);
    const smollm = bpe(["Ġ ,"], "smollm");
    expect(smollm.decode(smollm.encode(text, NO_SPECIAL))).toBe(text);
  });

  test("clean_spaces passes as llama.cpp's detokenize", () => {
    const tok = bpe([]);
    const clean = (s: string) => tok.decode(tok.encode(s, NO_SPECIAL));
    expect(clean("a ? b ! c . d , e")).toBe("a? b! c. d, e");
    expect(clean("x ' y")).toBe("x'y");
    expect(clean("it 's I 'm we 're you 've don 't I 'd we 'll")).toBe(
      "it's I'm we're you've don 't I 'd we 'll",
    );
  });

  test("the stream decoder holds a character split across byte-level tokens", () => {
    const tok = bpe([]);
    const stream = tok.streamDecoder();
    const pieces = tok.encode("€!", NO_SPECIAL).map((id) => stream.push(id));
    expect(pieces).toEqual(["", "", "€", "!"]);
  });

  test("bad gpt2 specs", () => {
    expectLlmemError(() => bpe([], "no-such-pre"), "UNSUPPORTED", "no-such-pre", "tokenizer.ggml.pre");
    expectLlmemError(
      () => new Tokenizer({ ...bpeSpec([]), merges: undefined }),
      "INVALID_ARGUMENT",
      "merges",
    );
  });
});
