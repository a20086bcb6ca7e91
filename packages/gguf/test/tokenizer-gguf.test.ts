/**
 * Tokenizers built from real GGUF files: llama.cpp's own tokenizer vectors for every
 * vocabulary fixture (`FILE.inp` / `FILE.out`, read exactly as llama.cpp's
 * tests/test-tokenizer-0.cpp reads them), the stories260K vocabulary, and the checks
 * tokenizerFromGguf makes on each metadata key.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { expectLlmemError, fixturePath } from "@llmem/core/testing";
import { openGguf, TokenType, tokenizerFromGguf } from "../src/index.ts";

/** test-tokenizer-0's read_tests: inputs end at "\n__ggml_vocab_test__\n", outputs are stripped lines. */
function readVectors(inpPath: string, outPath: string): { text: string; ids: number[] }[] {
  const raw = readFileSync(inpPath, "utf8");
  const sep = "\n__ggml_vocab_test__\n";
  const inputs: string[] = [];
  for (let pos = 0; pos < raw.length; ) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) {
      inputs.push(raw.slice(pos));
      break;
    }
    inputs.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  const outputs = readFileSync(outPath, "utf8").split("\n");
  if (outputs.at(-1) === "") outputs.pop(); // getline yields no line after the last newline
  expect(outputs.length).toBe(inputs.length);
  return inputs.map((text, i) => {
    const line = outputs[i]!.trim();
    return { text, ids: line === "" ? [] : line.split(" ").map((s) => Number.parseInt(s, 10)) };
  });
}

const VOCABS = ["ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-gpt-2.gguf"];
const first = fixturePath("gguf", VOCABS[0]!);
// Any further `*.gguf.inp` beside the fixtures is checked too (LLMEM_MODELS can point there).
const vocabFiles =
  first === undefined
    ? []
    : [
        ...new Set([
          ...VOCABS,
          ...readdirSync(dirname(first))
            .filter((f) => f.endsWith(".gguf.inp"))
            .map((f) => f.slice(0, -4)),
        ]),
      ];

describe("llama.cpp's tokenizer vectors", () => {
  for (const name of vocabFiles) {
    const path = fixturePath("gguf", name);
    test.skipIf(path === undefined)(`${name}: every .inp string tokenizes to its .out ids`, () => {
      const tok = tokenizerFromGguf(openGguf(path!).metadata);
      const vectors = readVectors(`${path}.inp`, `${path}.out`);
      expect(vectors.length).toBeGreaterThan(40);
      const failures = vectors
        .map(({ text, ids }) => ({ text, want: ids, got: tok.encode(text, { addSpecial: false }) }))
        .filter(({ want, got }) => JSON.stringify(want) !== JSON.stringify(got));
      expect(failures).toEqual([]);
      // And back: decoding gives the text (clean-up off, and the leading space kept as
      // llama.cpp's prefix adds it), wherever no unknown token was needed.
      for (const { text, ids } of vectors) {
        if (ids.includes(tok.unk ?? -1)) continue;
        expect(tok.decode(ids, { cleanSpaces: false })).toBe(text);
      }
    });
  }
});

const stories = fixturePath("gguf", "stories260K-f32.gguf");
const spmPath = fixturePath("gguf", "ggml-vocab-llama-spm.gguf");
const gpt2Path = fixturePath("gguf", "ggml-vocab-gpt-2.gguf");
const phi3Path = fixturePath("gguf", "ggml-vocab-phi-3.gguf");

describe("vocabularies from GGUF files", () => {
  test.skipIf(stories === undefined)("stories260K: 'Once upon a time' with BOS", () => {
    const tok = tokenizerFromGguf(openGguf(stories!).metadata);
    expect(tok.size).toBe(512);
    expect(tok.encode("Once upon a time")).toEqual([1, 403, 407, 261, 378]);
    expect(tok.decode([1, 403, 407, 261, 378])).toBe(" Once upon a time");
    expect(tok.decode([403, 407, 261, 378])).toBe("Once upon a time");
    // pad is 0xFFFFFFFF in the file: "none".
    expect(tok.pad).toBeNull();
  });

  test.skipIf(spmPath === undefined)("llama-spm: BOS from the flags, specials stay text", () => {
    const tok = tokenizerFromGguf(openGguf(spmPath!).metadata);
    expect(tok.encode("Hello world")).toEqual([1, 15043, 3186]);
    // llama-tokenize --no-parse-special on "<s>hi</s> <unk>" gives these (control texts stay text).
    expect(tok.encode("<s>hi</s> <unk>")).toEqual([
      1, 529, 29879, 29958, 2918, 829, 29879, 29958, 529, 2960, 29958,
    ]);
    expect(tok.encode("<s>hi", { parseSpecial: true })).toEqual([1, 1, 7251]);
  });

  test.skipIf(phi3Path === undefined)("phi-3: </s> is user-defined and swallows the spaces after it", () => {
    const tok = tokenizerFromGguf(openGguf(phi3Path!).metadata);
    // From llama-tokenize --no-parse-special at c392e50: <|end|> is control (stays text).
    expect(tok.encode("a</s>  b<|end|>")).toEqual([1, 263, 2, 289, 29966, 29989, 355, 29989, 29958]);
    expect(tok.tokenType(tok.vocab.idOf("<|end|>"))).toBe(TokenType.CONTROL);
  });

  test.skipIf(gpt2Path === undefined)("gpt-2: no BOS added; <|endoftext|> only when parsed", () => {
    const tok = tokenizerFromGguf(openGguf(gpt2Path!).metadata);
    expect(tok.addBos).toBe(false);
    expect(tok.encode("<|endoftext|>hi")).toEqual([27, 91, 437, 1659, 5239, 91, 29, 5303]);
    expect(tok.encode("<|endoftext|>hi", { parseSpecial: true })).toEqual([50256, 5303]);
  });

  test.skipIf(spmPath === undefined || gpt2Path === undefined)(
    "100 KB of text tokenizes (no time bound: the speed goal belongs to a benchmark)",
    () => {
      const text = readFileSync(`${spmPath}.inp`, "utf8").replaceAll("__ggml_vocab_test__", "").repeat(120);
      expect(new TextEncoder().encode(text).length).toBeGreaterThan(100_000);
      for (const path of [spmPath!, gpt2Path!]) {
        const tok = tokenizerFromGguf(openGguf(path).metadata);
        const ids = tok.encode(text, { addSpecial: false });
        expect(ids.length).toBeGreaterThan(10_000);
      }
    },
  );
});

describe("tokenizerFromGguf checks every key", () => {
  const base = (): Map<string, unknown> =>
    new Map<string, unknown>([
      ["tokenizer.ggml.model", "llama"],
      ["tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", "a"]],
      ["tokenizer.ggml.scores", new Float32Array(4)],
      ["tokenizer.ggml.token_type", Int32Array.of(2, 3, 3, 1)],
    ]);
  const without = (key: string) => {
    const m = base();
    m.delete(key);
    return m;
  };
  const withValue = (key: string, value: unknown) => base().set(key, value);

  test("a minimal llama vocabulary loads with llama.cpp's defaults", () => {
    const tok = tokenizerFromGguf(base());
    expect([tok.bos, tok.eos, tok.unk, tok.pad]).toEqual([1, 2, 0, null]);
    expect([tok.addBos, tok.addEos, tok.addSpacePrefix]).toEqual([true, false, true]);
    expect(tokenizerFromGguf(withValue("tokenizer.ggml.add_space_prefix", false)).addSpacePrefix).toBe(false);
  });

  test("missing keys", () => {
    expectLlmemError(
      () => tokenizerFromGguf(without("tokenizer.ggml.model")),
      "FORMAT_ERROR",
      "tokenizer.ggml.model",
    );
    expectLlmemError(
      () => tokenizerFromGguf(without("tokenizer.ggml.tokens")),
      "FORMAT_ERROR",
      "tokenizer.ggml.tokens",
    );
    const gpt2 = withValue("tokenizer.ggml.model", "gpt2");
    expectLlmemError(() => tokenizerFromGguf(gpt2), "FORMAT_ERROR", "tokenizer.ggml.merges", "missing");
  });

  test("wrong types", () => {
    const cases: [string, unknown, string][] = [
      ["tokenizer.ggml.model", 7, "string"],
      ["tokenizer.ggml.tokens", "abc", "array of strings"],
      ["tokenizer.ggml.tokens", ["a", 1], "array of strings"],
      ["tokenizer.ggml.scores", [0, 0, 0, 0], "f32"],
      ["tokenizer.ggml.token_type", new Float32Array(4), "i32"],
      ["tokenizer.ggml.bos_token_id", 1n, "integer"],
      ["tokenizer.ggml.eos_token_id", 1.5, "integer"],
      ["tokenizer.ggml.add_bos_token", 1, "bool"],
      ["tokenizer.ggml.pre", ["x"], "string"],
    ];
    for (const [key, value, want] of cases) {
      expectLlmemError(() => tokenizerFromGguf(withValue(key, value)), "FORMAT_ERROR", key, want);
    }
  });

  test("lengths that disagree with the token list", () => {
    expectLlmemError(
      () => tokenizerFromGguf(withValue("tokenizer.ggml.scores", new Float32Array(3))),
      "FORMAT_ERROR",
      "tokenizer.ggml.scores",
      "3",
      "4",
    );
    expectLlmemError(
      () => tokenizerFromGguf(withValue("tokenizer.ggml.token_type", new Int32Array(5))),
      "FORMAT_ERROR",
      "tokenizer.ggml.token_type",
      "5",
    );
    expectLlmemError(
      () => tokenizerFromGguf(withValue("tokenizer.ggml.tokens", [])),
      "FORMAT_ERROR",
      "empty",
    );
  });

  test("ids outside the vocabulary; 0xFFFFFFFF means none", () => {
    expectLlmemError(
      () => tokenizerFromGguf(withValue("tokenizer.ggml.bos_token_id", 4)),
      "OUT_OF_RANGE",
      "tokenizer.ggml.bos_token_id",
      "4",
    );
    expectLlmemError(
      () => tokenizerFromGguf(withValue("tokenizer.ggml.unknown_token_id", -2)),
      "OUT_OF_RANGE",
      "tokenizer.ggml.unknown_token_id",
    );
    expect(tokenizerFromGguf(withValue("tokenizer.ggml.padding_token_id", 0xffffffff)).pad).toBeNull();
  });

  test("unsupported models and pre-tokenizers name themselves", () => {
    expectLlmemError(
      () => tokenizerFromGguf(withValue("tokenizer.ggml.model", "bert")),
      "UNSUPPORTED",
      '"bert"',
    );
    const gpt2 = base()
      .set("tokenizer.ggml.model", "gpt2")
      .set("tokenizer.ggml.merges", [])
      .set("tokenizer.ggml.pre", "tekken-9");
    expectLlmemError(() => tokenizerFromGguf(gpt2), "UNSUPPORTED", '"tekken-9"', "tokenizer.ggml.pre");
  });

  test("end-of-generation texts become control tokens whatever the file says (as llama.cpp)", () => {
    const m = base().set("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", "<|im_end|>"]);
    m.set("tokenizer.ggml.token_type", Int32Array.of(2, 3, 3, TokenType.USER_DEFINED));
    const tok = tokenizerFromGguf(m);
    expect(tok.tokenType(3)).toBe(TokenType.CONTROL);
    expect(tok.encode("<|im_end|>", { addSpecial: false })).not.toContain(3);
  });
});
