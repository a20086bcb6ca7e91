/**
 * Pre-tokenizer splits. The expected words are derived by hand from llama.cpp's source at
 * c392e50 (src/llama-vocab.cpp: the regex list per LLAMA_VOCAB_PRE_TYPE_*; src/unicode.cpp:
 * unicode_regex_split_custom_gpt2 / _llama3 and the collapsed-text std::regex path), for
 * the pre-tokenizers with no vocabulary fixture here (llama-bpe, qwen2, smollm, ...); the
 * gpt-2 vocabulary fixture checks the gpt-2 splitter end to end in tokenizer-gguf.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { PRE_TOKENIZER_NAMES, PreTokenizer } from "../src/tokenizer/index.ts";

const split = (pre: string, text: string) => new PreTokenizer(pre).split(text);

describe("gpt-2 (llama.cpp's hand-written gpt2 scanner)", () => {
  test("words take one leading space; letters, digits and other runs split", () => {
    expect(split("gpt-2", "Hello world")).toEqual(["Hello", " world"]);
    expect(split("gpt-2", "hi!!\tthere 123456")).toEqual(["hi", "!!", "\t", "there", " 123456"]);
    expect(split("gpt-2", "über café")).toEqual(["über", " café"]);
  });
  test("contractions are case-sensitive", () => {
    expect(split("gpt-2", "I'm you'LL we're")).toEqual(["I", "'m", " you", "'", "LL", " we", "'re"]);
  });
  test("a run of spaces before a word leaves its last space to the word (\\s+(?!\\S))", () => {
    expect(split("gpt-2", "a   b")).toEqual(["a", "  ", " b"]);
    expect(split("gpt-2", "a   ")).toEqual(["a", "   "]);
    expect(split("gpt-2", "a\n\n b")).toEqual(["a", "\n\n", " b"]);
    expect(split("gpt-2", "a \u3000b")).toEqual(["a", " ", "\u3000", "b"]);
  });
});

describe("llama-bpe (llama.cpp's hand-written llama3 scanner)", () => {
  test("contractions are case-insensitive", () => {
    expect(split("llama-bpe", "I'M HE'LL they'Re")).toEqual(["I", "'M", " HE", "'LL", " they", "'Re"]);
    // Only here does case matter: a case-sensitive 'S would join the letters after it.
    expect(split("llama-bpe", "WE'LLX it'Sa")).toEqual(["WE", "'LL", "X", " it", "'S", "a"]);
    expect(split("gpt-2", "WE'LLX it'Sa")).toEqual(["WE", "'", "LLX", " it", "'", "Sa"]);
  });
  test("digits group by three from the left", () => {
    expect(split("llama-bpe", "1234567 12")).toEqual(["123", "456", "7", " ", "12"]);
    expect(split("llama-bpe", "x٣٤٥٦")).toEqual(["x", "٣٤٥", "٦"]);
  });
  test("one non-letter, non-digit character may lead a word", () => {
    expect(split("llama-bpe", "(hello $world 3dogs")).toEqual(["(hello", " $", "world", " ", "3", "dogs"]);
  });
  test("punctuation takes trailing newlines; whitespace runs end at their last newline", () => {
    expect(split("llama-bpe", "ok!!\n\nnext")).toEqual(["ok", "!!\n\n", "next"]);
    expect(split("llama-bpe", "a \n b")).toEqual(["a", " \n", " b"]);
    expect(split("llama-bpe", "a   b")).toEqual(["a", "  ", " b"]);
    expect(split("llama-bpe", "a  ")).toEqual(["a", "  "]);
  });
});

describe("qwen2 (same regex but single digits; llama.cpp runs it through std::regex)", () => {
  test("digits one by one, contractions case-insensitive", () => {
    expect(split("qwen2", "abc 2024 I'M")).toEqual(["abc", " ", "2", "0", "2", "4", " I", "'M"]);
  });
  test("whitespace and newlines as llama3", () => {
    expect(split("qwen2", "ok!!\n\nnext")).toEqual(["ok", "!!\n\n", "next"]);
    expect(split("qwen2", "a   b\t\n x")).toEqual(["a", "  ", " b", "\t\n", " x"]);
  });
  test("non-ASCII letters and digits through the collapsed text", () => {
    expect(split("qwen2", "我想在apple工作1314天")).toEqual(["我想在apple工作", "1", "3", "1", "4", "天"]);
    expect(split("qwen2", "нещо ٣٤")).toEqual(["нещо", " ", "٣", "٤"]);
  });
});

describe("starcoder / smollm (single digits first, then gpt2)", () => {
  test("every digit is its own word", () => {
    for (const pre of ["starcoder", "smollm", "refact", "command-r"]) {
      expect(split(pre, "abc 123 d4")).toEqual(["abc", " ", "1", "2", "3", " d", "4"]);
    }
  });
});

describe("deepseek-coder", () => {
  test("newlines alone, letters and punctuation with one leading space, CJK runs, single digits", () => {
    expect(split("deepseek-coder", "Hi, 世界 42\n")).toEqual(["Hi", ",", " ", "世界", " ", "4", "2", "\n"]);
  });
});

describe("falcon", () => {
  test("punctuation and symbols first, then gpt2, then ASCII digits in threes", () => {
    expect(split("falcon", "x=1234567!")).toEqual(["x", "=", "123", "456", "7", "!"]);
  });
});

describe("default (no pre-tokenizer named)", () => {
  test("punctuation runs, gpt2 words, digit runs, ASCII digit triples", () => {
    expect(split("default", "a+b 12345")).toEqual(["a", "+", "b", " ", "123", "45"]);
  });
});

describe("the regex machinery", () => {
  test("U+0085 is whitespace to llama.cpp's std::regex path (not to JavaScript's \\s)", () => {
    expect(split("qwen2", "a\u0085\u0085b")).toEqual(["a", "\u0085", "\u0085b"]);
  });
  test("letters of scripts newer than llama.cpp's Unicode tables are unassigned, as there", () => {
    // U+10D4A (Garay, Unicode 16) is \p{L} to Bun, unassigned to llama.cpp c392e50.
    expect(split("llama-bpe", "a\u{10D4A}b")).toEqual(["a", "\u{10D4A}b"]);
    expect(split("qwen2", "a\u{10D4A}b")).toEqual(["a", "\u{10D4A}b"]);
    expect(split("llama-bpe", "a\u{10D0A}b")).toEqual(["a\u{10D0A}b"]); // Hanifi Rohingya, 11.0
  });
  test("every pre-tokenizer llama.cpp names compiles and splits losslessly", () => {
    const text = "Hello, y'all! 3333 😀 нещо\n\n\t 我想在apple工作1314151天～ \u00a0x";
    for (const pre of PRE_TOKENIZER_NAMES) expect(split(pre, text).join("")).toBe(text);
  });
  test("an unknown pre-tokenizer names itself", () => {
    expectLlmemError(() => new PreTokenizer("tekken"), "UNSUPPORTED", '"tekken"');
  });
});
