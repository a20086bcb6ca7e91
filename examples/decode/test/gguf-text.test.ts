/** The GGUF file's tokenizer as the loop's codec: llama.cpp's encoding, whole characters out, nothing raw to a terminal, EOG stops. */
import { describe, expect, test } from "bun:test";
import { fixturePath } from "@llmem/core/testing";
import { openGguf, parseGguf } from "@llmem/gguf";
import { ggufTextCodec } from "../src/gguf-text.ts";
import { rewrite, SMALL, smallGguf } from "./gguf-files.ts";

const BYTE_BASE = 3; // <0x00> is token 3 in the llama2.c-style vocabulary
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("ggufTextCodec", () => {
  const file = parseGguf(smallGguf());
  const codec = ggufTextCodec(file, SMALL.vocabSize);

  test("byte tokens print their byte; a character split over byte tokens comes out whole", () => {
    const print = codec.printer();
    // Control bytes pass as emitted (the CLI escapes them on a terminal: terminal-text.ts).
    expect(text(print(1, BYTE_BASE + 0x1b))).toBe("\u001b");
    expect(text(print(1, BYTE_BASE + 0x0a))).toBe("\n");
    expect(text(print(1, BYTE_BASE + 0x09))).toBe("\t");
    // "é" is C3 A9: nothing until the second byte arrives.
    expect(print(1, BYTE_BASE + 0xc3)).toHaveLength(0);
    expect(text(print(1, BYTE_BASE + 0xa9))).toBe("é");
  });

  test("generation stops at EOS and at end-of-turn texts", () => {
    expect(codec.isStop(2)).toBe(true);
    expect(codec.isStop(1)).toBe(false);
    const eot = parseGguf(
      rewrite(smallGguf(), {
        metadata: {
          "tokenizer.ggml.tokens": file.getStringArray("tokenizer.ggml.tokens").with(299, "<|im_end|>"),
        },
      }),
    );
    expect(ggufTextCodec(eot, SMALL.vocabSize).isStop(299)).toBe(true);
  });

  test("a vocabulary of another size than the model is refused", () => {
    expect(() => ggufTextCodec(file, SMALL.vocabSize + 1)).toThrow(
      /holds 300 tokens, the model's token_embd.weight 301 rows/,
    );
  });

  const stories = fixturePath("gguf", "stories260K-f32.gguf");
  test.skipIf(stories === undefined)("the fixture prompt encodes as llama.cpp encodes it", () => {
    expect(ggufTextCodec(openGguf(stories!), 512).encode("Once upon a time")).toEqual([
      1, 403, 407, 261, 378,
    ]);
  });
});
