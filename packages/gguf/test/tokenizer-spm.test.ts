import { describe, expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { Tokenizer, TokenType } from "../src/tokenizer/index.ts";
import { ids, spm } from "./tokenizer-helpers.ts";

const NO_SPECIAL = { addSpecial: false } as const;
const letters = (s: string) => [...s].map((c) => [c, -10] as const);

describe("SentencePiece BPE (llama)", () => {
  test("the pair forming the highest-scoring token merges first", () => {
    const bcFirst = spm([...letters("▁abc"), ["ab", -2], ["bc", -1]], [], { addSpacePrefix: false });
    expect(bcFirst.encode("abc", NO_SPECIAL)).toEqual(ids(bcFirst, "a", "bc"));
    const abFirst = spm([...letters("▁abc"), ["ab", -1], ["bc", -2]], [], { addSpacePrefix: false });
    expect(abFirst.encode("abc", NO_SPECIAL)).toEqual(ids(abFirst, "ab", "c"));
  });

  test("equal scores merge the leftmost pair", () => {
    const tok = spm([...letters("▁abc"), ["ab", -1], ["bc", -1]], [], { addSpacePrefix: false });
    expect(tok.encode("abc", NO_SPECIAL)).toEqual(ids(tok, "ab", "c"));
  });

  test("merges continue through longer tokens", () => {
    const tok = spm([
      ...letters("▁helo"),
      ["he", -1],
      ["ll", -2],
      ["hell", -3],
      ["hello", -4],
      ["▁hello", -5],
    ]);
    expect(tok.encode("hello", NO_SPECIAL)).toEqual(ids(tok, "▁hello"));
    expect(tok.encode("hello hell", NO_SPECIAL)).toEqual(ids(tok, "▁hello", "▁", "hell"));
  });

  test("spaces become ▁ and the text gets a ▁ prefix (add_space_prefix)", () => {
    const tok = spm([...letters("▁ab"), ["▁a", -1]]);
    expect(tok.encode("a b", NO_SPECIAL)).toEqual(ids(tok, "▁a", "▁", "b"));
    const noPrefix = spm([...letters("▁ab"), ["▁a", -1]], [], { addSpacePrefix: false });
    expect(noPrefix.encode("a b", NO_SPECIAL)).toEqual(ids(noPrefix, "a", "▁", "b"));
  });

  test("characters that are no token fall back to their UTF-8 bytes", () => {
    const tok = spm(letters("▁a"), [], { addSpacePrefix: false });
    expect(tok.encode("aé€", NO_SPECIAL)).toEqual([
      ...ids(tok, "a"),
      ...ids(tok, "<0xC3>", "<0xA9>", "<0xE2>", "<0x82>", "<0xAC>"),
    ]);
    // Without byte tokens, an unknown character is one <unk> (llama.cpp would abort).
    const bareSpec = {
      model: "llama",
      tokens: ["<unk>", "<s>", "</s>", "a"],
      tokenTypes: [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, TokenType.NORMAL],
      bos: 1,
      unk: 0,
      addSpacePrefix: false,
    } as const;
    expect(new Tokenizer(bareSpec).encode("aéa", NO_SPECIAL)).toEqual([3, 0, 3]);
    const noUnk = new Tokenizer({ ...bareSpec, unk: undefined });
    expectLlmemError(() => noUnk.encode("é"), "UNSUPPORTED", "é");
  });

  test("BOS and EOS as the flags say, only with addSpecial", () => {
    const tok = spm(letters("▁a"));
    expect(tok.encode("a")).toEqual([1, ...ids(tok, "▁", "a")]);
    expect(tok.encode("")).toEqual([1]);
    expect(tok.encode("", NO_SPECIAL)).toEqual([]);
    const both = spm(letters("▁a"), [], { addEos: true });
    expect(both.encode("a")).toEqual([1, ...ids(both, "▁", "a"), 2]);
    const none = spm(letters("▁a"), [], { addBos: false });
    expect(none.encode("a")).toEqual(ids(none, "▁", "a"));
  });

  test("control and unknown tokens never come from plain text; parseSpecial opts in", () => {
    // "<s" + ">" would spell the control token <s>: it must still not be merged into.
    const tok = spm([...letters("▁<>/sunkab"), ["<s", -1], ["/s", -1], ["</s", -1], ["<unk", -1]]);
    expect(tok.encode("<s>a</s>", NO_SPECIAL)).toEqual(ids(tok, "▁", "<s", ">", "a", "</s", ">"));
    expect(tok.encode("<unk>", NO_SPECIAL)).not.toContain(0);
    // Parsed: the text after a special token gets the space prefix again (as llama.cpp).
    expect(tok.encode("<s>a</s>b", { addSpecial: false, parseSpecial: true })).toEqual([
      1,
      ...ids(tok, "▁", "a"),
      2,
      ...ids(tok, "▁", "b"),
    ]);
  });

  test("user-defined tokens are cut out of plain text, longest first", () => {
    const tok = spm(letters("▁ab"), [
      ["<tool>", TokenType.USER_DEFINED],
      ["<tool><tool>", TokenType.USER_DEFINED],
    ]);
    const [one, two] = ids(tok, "<tool>", "<tool><tool>");
    expect(tok.encode("a<tool><tool><tool>b", NO_SPECIAL)).toEqual([
      ...ids(tok, "▁", "a"),
      two!,
      one!,
      ...ids(tok, "▁", "b"),
    ]);
  });

  test("rstrip tokens swallow the whitespace after them", () => {
    const tok = spm(letters("▁ab"), [["<x>", TokenType.USER_DEFINED]], {});
    const x = tok.vocab.idOf("<x>");
    const stripping = spm(letters("▁ab"), [["<x>", TokenType.USER_DEFINED]], { rstrip: [x] });
    expect(tok.encode("a<x> \tb", NO_SPECIAL)).toEqual([
      ...ids(tok, "▁", "a"),
      x,
      ...ids(tok, "▁", "▁", "<0x09>", "b"),
    ]);
    expect(stripping.encode("a<x> \tb", NO_SPECIAL)).toEqual([
      ...ids(tok, "▁", "a"),
      x,
      ...ids(tok, "▁", "b"),
    ]);
  });

  test("pieces: ▁ back to spaces, byte tokens to their byte, specials empty unless asked", () => {
    const tok = spm(
      [...letters("▁a"), ["▁a", -1]],
      [
        ["<u>", TokenType.USER_DEFINED],
        ["<unused>", TokenType.UNUSED],
      ],
    );
    expect(tok.pieceBytes(tok.vocab.idOf("▁a"))).toEqual(new TextEncoder().encode(" a"));
    expect([...tok.pieceBytes(tok.vocab.idOf("<0xC3>"))]).toEqual([0xc3]);
    expect(tok.pieceBytes(1)).toHaveLength(0);
    expect(new TextDecoder().decode(tok.pieceBytes(1, true))).toBe("<s>");
    expect(new TextDecoder().decode(tok.pieceBytes(tok.vocab.idOf("<u>")))).toBe("<u>");
    expect(tok.pieceBytes(tok.vocab.idOf("<unused>"), true)).toHaveLength(0);
  });

  test("decode: byte tokens reassemble into UTF-8, the prefix space goes, BOS/EOS as asked", () => {
    const tok = spm([...letters("▁a"), ["▁a", -1]], [], { addEos: true });
    expect(tok.decode(tok.encode("a é a", NO_SPECIAL))).toBe("a é a");
    expect(tok.decode(tok.encode(" a", NO_SPECIAL))).toBe(" a");
    // After a BOS, llama_detokenize keeps the space (only the very first piece loses it).
    const encoded = tok.encode("a é a");
    expect(tok.decode(encoded)).toBe(" a é a");
    expect(tok.decode(encoded, { removeSpecial: true })).toBe(" a é a");
    expect(tok.decode(encoded, { special: true })).toBe("<s> a é a</s>");
  });

  test("a stream never emits half a character", () => {
    const tok = spm([...letters("▁a"), ["▁a", -1]]);
    const stream = tok.streamDecoder();
    const out = tok.encode("a€a", NO_SPECIAL).map((id) => stream.push(id));
    expect(out).toEqual([" a", "", "", "€", "a"]);
    expect(stream.flush()).toBe("");
    // A character that never completes comes out as one U+FFFD at the end.
    const broken = tok.streamDecoder();
    expect(broken.push(tok.vocab.idOf("<0xE2>"))).toBe("");
    expect(broken.push(tok.vocab.idOf("<0x82>"))).toBe("");
    expect(broken.flush()).toBe("\uFFFD");
    // Terminal-driving bytes can be left out; tab, newline and text stay.
    const safe = tok.streamDecoder({ dropControlChars: true });
    const bytes = [
      "<0x1B>",
      "<0x5B>",
      "<0x09>",
      "<0x0A>",
      "<0x0D>",
      "<0x7F>",
      "<0xC2>",
      "<0x9B>",
      "<0xC3>",
      "<0xA9>",
    ];
    expect(bytes.map((b) => safe.push(tok.vocab.idOf(b))).join("")).toBe("[\t\né");
    const raw = tok.streamDecoder();
    expect(bytes.map((b) => raw.push(tok.vocab.idOf(b))).join("")).toBe("\u001b[\t\n\r\u007f\u009bé");
    const stripped = tok.streamDecoder({ stripLeadingSpace: true });
    expect(stripped.push(tok.vocab.idOf("▁a"))).toBe("a");
    expect(stripped.push(tok.vocab.idOf("▁a"))).toBe(" a");
  });

  test("bad specs are LlmemErrors naming the argument", () => {
    expectLlmemError(() => spm(letters("a"), [], { bos: 99999 }), "OUT_OF_RANGE", "bos", "99999");
    expectLlmemError(() => spm(letters("a"), [], { scores: [1, 2] }), "INVALID_ARGUMENT", "scores", "2");
    expectLlmemError(() => spm(letters("a"), [], { tokens: [] }), "INVALID_ARGUMENT", "tokens");
    expectLlmemError(() => spm(letters("a"), [], { bos: undefined }), "INVALID_ARGUMENT", "BOS");
    expectLlmemError(
      () =>
        spm([
          ["a", 0],
          ["a", 0],
        ]),
      "FORMAT_ERROR",
      "repeats",
    );
    const tok = spm(letters("a"));
    expectLlmemError(() => tok.pieceBytes(-1), "OUT_OF_RANGE", "-1");
    expectLlmemError(() => tok.tokenText(tok.size), "OUT_OF_RANGE", String(tok.size));
  });

  test("token types come back as GGUF numbers", () => {
    const tok = spm(letters("a"), [
      ["<u>", TokenType.USER_DEFINED],
      ["<x>", TokenType.UNUSED],
    ]);
    expect(
      [0, 1, 3, tok.vocab.idOf("a"), tok.vocab.idOf("<u>"), tok.vocab.idOf("<x>")].map((i) =>
        tok.tokenType(i),
      ),
    ).toEqual([
      TokenType.UNKNOWN,
      TokenType.CONTROL,
      TokenType.BYTE,
      TokenType.NORMAL,
      TokenType.USER_DEFINED,
      TokenType.UNUSED,
    ]);
  });
});
