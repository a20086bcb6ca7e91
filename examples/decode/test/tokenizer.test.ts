import { describe, expect, test } from "bun:test";
import { isLlmemError } from "@llmem/core";
import { fixturePath } from "@llmem/core/testing";
import { syntheticTokenizer, syntheticVocab } from "../src/synthetic.ts";
import { printable, Tokenizer } from "../src/tokenizer.ts";

// A visible SKIPPED line when absent; under CI=true a missing fixture fails.
const TOK512 = fixturePath("tok512.bin");
const haveModels = TOK512 !== undefined;

const V = 512;
const tok = Tokenizer.parse(syntheticTokenizer(V), V);
const vocab = syntheticVocab(V);
const id = (piece: string) => vocab.indexOf(piece);

describe("encode (run.c's BPE)", () => {
  test("BOS, dummy prefix, then merges up to whole words", () => {
    expect(tok.encode("the")).toEqual([1, id(" the")]);
    expect(tok.encode("once upon")).toEqual([1, id(" once"), id(" upon")]);
  });
  test("empty text is BOS alone (no dummy prefix); bos/eos flags", () => {
    expect(tok.encode("")).toEqual([1]);
    expect(tok.encode("", false, true)).toEqual([2]);
  });
  test("code points missing from the vocabulary fall back to byte tokens (byte + 3)", () => {
    const bytes = [...new TextEncoder().encode("é☃")];
    expect(tok.encode("é☃")).toEqual([1, id(" "), ...bytes.map((b) => b + 3)]);
  });
  test.skipIf(!haveModels)("tok512: the prompt of the published story", () => {
    const t = Tokenizer.read(TOK512!, 512);
    expect(t.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
  });
});

describe("decode (run.c's)", () => {
  test("after BOS the leading space is dropped; elsewhere it stays", () => {
    expect(new TextDecoder().decode(tok.decode(1, id(" the")))).toBe("the");
    expect(new TextDecoder().decode(tok.decode(5, id(" the")))).toBe(" the");
  });
  test("<0xXX> pieces decode to the raw byte; unprintable lone bytes are not printed", () => {
    expect([...tok.decode(5, 0x41 + 3)]).toEqual([0x41]);
    expect(printable(tok.decode(5, 0x07 + 3))).toBe(false);
    expect(printable(tok.decode(5, 0x0a + 3))).toBe(true);
    expect(printable(tok.decode(5, 0xe2 + 3))).toBe(false);
    expect(printable(new Uint8Array(0))).toBe(false);
  });
});

describe("tokenizer file validation", () => {
  const file = syntheticTokenizer(V);
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return isLlmemError(e) ? `${e.code}: ${e.message}` : String(e);
    }
    return "no error";
  };
  test("fewer tokens than the model's vocab_size", () => {
    expect(code(() => Tokenizer.parse(file, V + 10))).toMatch(
      /FORMAT_ERROR: tokenizer holds only 512 complete tokens but the model's vocab_size is 522/,
    );
  });
  test("more tokens than the model's vocab_size", () => {
    expect(code(() => Tokenizer.parse(file, 300))).toMatch(
      /FORMAT_ERROR: tokenizer holds 512 tokens but the model's vocab_size is 300/,
    );
  });
  test("truncated anywhere, or a hostile length field", () => {
    for (const cut of [0, 3, 4, 11, 100, file.length - 1]) {
      expect(code(() => Tokenizer.parse(file.subarray(0, cut), V))).toMatch(/^FORMAT_ERROR/);
    }
    const hostile = file.slice();
    new DataView(hostile.buffer).setInt32(8, -5, true);
    expect(code(() => Tokenizer.parse(hostile, V))).toMatch(/FORMAT_ERROR: tokenizer: token 0 has length -5/);
    new DataView(hostile.buffer).setInt32(8, 2 ** 30, true);
    expect(code(() => Tokenizer.parse(hostile, V))).toMatch(/FORMAT_ERROR/);
  });
});
