/** Round trips and streaming, over arbitrary Unicode text (fast-check). */
import { describe, expect, test } from "bun:test";
import { fixturePath } from "@llmem/core/testing";
import fc from "fast-check";
import { openGguf, type Tokenizer, tokenizerFromGguf } from "../src/index.ts";
import { bpe, spm } from "./tokenizer-helpers.ts";

// Any code points (no lone surrogates: they cannot survive UTF-8). SentencePiece writes
// spaces as ▁ and so cannot give a literal ▁ back; leave it out for the llama tokenizers.
const anyText = fc.string({ unit: "binary", maxLength: 60 });
const spmText = anyText.map((s) => s.replaceAll("\u2581", "_"));

const handSpm = spm([
  ...[..."▁abcdeélowr"].map((c): [string, number] => [c, -10]),
  ["ab", -1],
  ["▁a", -2],
  ["ll", -3],
  ["llo", -4],
]);
const handBpe = bpe(["a b", "Ġ a", "l l", "ll o", "Ã ©"], "llama-bpe");

const spmPath = fixturePath("gguf", "ggml-vocab-llama-spm.gguf");
const gpt2Path = fixturePath("gguf", "ggml-vocab-gpt-2.gguf");
const load = (path: string | undefined) =>
  path === undefined ? undefined : tokenizerFromGguf(openGguf(path).metadata);
const realSpm = load(spmPath);
const realGpt2 = load(gpt2Path);

function roundTrips(tok: Tokenizer, arb: fc.Arbitrary<string>) {
  fc.assert(
    fc.property(arb, (s) => {
      expect(tok.decode(tok.encode(s, { addSpecial: false }), { cleanSpaces: false })).toBe(s);
    }),
    { numRuns: 300 },
  );
}

/** Streams `ids` and checks the pieces join to `s` without ever holding a broken character. */
function streamsBack(tok: Tokenizer, ids: readonly number[], s: string) {
  const stream = tok.streamDecoder({ stripLeadingSpace: tok.addSpacePrefix });
  let out = "";
  for (const id of ids) {
    const piece = stream.push(id);
    expect(piece).not.toContain("\uFFFD");
    out += piece;
  }
  out += stream.flush();
  expect(out).toBe(s);
}

describe("decode(encode(s)) == s", () => {
  test("a text starting with U+FEFF keeps it (found by the property below: TextDecoder stripped it)", () => {
    for (const s of ["\uFEFF", "\uFEFFab", "a\uFEFF"]) {
      expect(handBpe.decode(handBpe.encode(s, { addSpecial: false }), { cleanSpaces: false })).toBe(s);
    }
  });
  test("SentencePiece with byte fallback (hand-built vocabulary)", () => roundTrips(handSpm, spmText));
  test("byte-level BPE (hand-built vocabulary)", () => roundTrips(handBpe, anyText));
  test.skipIf(realSpm === undefined)("llama-spm vocabulary", () => roundTrips(realSpm!, spmText));
  test.skipIf(realGpt2 === undefined)("gpt-2 vocabulary", () => roundTrips(realGpt2!, anyText));
});

describe("the stream decoder never emits U+FFFD for valid text", () => {
  const valid = anyText.filter((s) => !s.includes("\uFFFD"));
  test("one byte token per byte: every character split at every byte", () => {
    fc.assert(
      fc.property(valid, (s) => {
        const bytes = new TextEncoder().encode(s);
        streamsBack(
          handSpm,
          [...bytes].map((b) => handSpm.vocab.byteTokens[b]!),
          s,
        );
      }),
      { numRuns: 300 },
    );
  });
  test("byte-level BPE tokens, which end mid-character wherever merges stop", () => {
    const tok = realGpt2 ?? handBpe;
    fc.assert(
      fc.property(valid, (s) => streamsBack(tok, tok.encode(s, { addSpecial: false }), s)),
      { numRuns: 300 },
    );
  });
  test.skipIf(realSpm === undefined)("llama-spm tokens", () => {
    fc.assert(
      fc.property(
        valid.map((s) => s.replaceAll("\u2581", "_")),
        (s) => streamsBack(realSpm!, realSpm!.encode(s, { addSpecial: false }), s),
      ),
      { numRuns: 300 },
    );
  });
});
