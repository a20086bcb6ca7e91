import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { expectLlmemError, fixturePath } from "@llmem/core/testing";
import { llama2cToGguf, openGguf, parseGguf, readLlama2cConfig } from "../src/index.ts";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const ckptPath = fixturePath("stories260K.bin");
const tokPath = fixturePath("tok512.bin");
const f32Path = fixturePath("gguf", "stories260K-f32.gguf");
const synthPath = fixturePath("gguf", "synthk-f32.gguf");
const haveStories = ckptPath !== undefined && tokPath !== undefined && f32Path !== undefined;

describe.skipIf(!haveStories)("stories260K through llama.cpp's llama2c converter layout", () => {
  test("stories260K.bin + tok512.bin → stories260K-f32.gguf byte for byte", () => {
    const out = llama2cToGguf(readFileSync(ckptPath!), readFileSync(tokPath!));
    expect(out.byteLength).toBe(1185376);
    expect(sha256(out)).toBe("047bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b");
  });

  test("the config, shared classifier and token types", () => {
    const ckpt = readFileSync(ckptPath!);
    const c = readLlama2cConfig(ckpt);
    expect(c).toMatchObject({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512 });
    expect(c.sharedClassifier).toBe(true);
    const file = parseGguf(llama2cToGguf(ckpt, readFileSync(tokPath!)));
    expect(file.tensor("output.weight").data).toEqual(file.tensor("token_embd.weight").data);
    const types = file.getNumericArray("tokenizer.ggml.token_type");
    const tokens = file.getStringArray("tokenizer.ggml.tokens");
    expect([tokens[0], tokens[1], tokens[2]]).toEqual(["<unk>", "<s>", "</s>"]);
    expect([types[0], types[1], types[2], types[3]]).toEqual([2, 3, 3, 6]); // unk, control, control, byte
    expect(tokens.some((t) => t.includes(" "))).toBe(false);
  });

  test("options: context length and the rope dimension cap", () => {
    const file = parseGguf(
      llama2cToGguf(readFileSync(ckptPath!), readFileSync(tokPath!), {
        contextLength: 512,
        ropeDimensionMax: 4,
      }),
    );
    expect(file.getNumber("llama.context_length")).toBe(512);
    expect(file.getNumber("llama.rope.dimension_count")).toBe(4);
  });
});

/**
 * synthk-f32.gguf came from a llama2.c checkpoint we do not have; rebuilding that checkpoint
 * from its tensors (GQA, separate classifier, freq_cis zeros) and converting it back must
 * give the same file: the paths stories260K does not take.
 */
test.skipIf(synthPath === undefined || tokPath === undefined)("synthk: GQA and a separate classifier", () => {
  const g = openGguf(synthPath!);
  const dim = g.getNumber("llama.embedding_length");
  const ff = g.getNumber("llama.feed_forward_length");
  const L = g.getNumber("llama.block_count");
  const heads = g.getNumber("llama.attention.head_count");
  const kvHeads = g.getNumber("llama.attention.head_count_kv");
  const vocab = g.getStringArray("tokenizer.ggml.tokens").length;
  const seqLen = 32;
  const t = (name: string) => g.tensor(name).data;
  const layers = (suffix: string) => Array.from({ length: L }, (_, i) => t(`blk.${i}.${suffix}`));
  const parts: Uint8Array[] = [
    new Uint8Array(new Int32Array([dim, ff, L, heads, kvHeads, -vocab, seqLen]).buffer),
    t("token_embd.weight"),
    ...layers("attn_norm.weight"),
    ...layers("attn_q.weight"),
    ...layers("attn_k.weight"),
    ...layers("attn_v.weight"),
    ...layers("attn_output.weight"),
    ...layers("ffn_norm.weight"),
    ...layers("ffn_gate.weight"),
    ...layers("ffn_down.weight"),
    ...layers("ffn_up.weight"),
    t("output_norm.weight"),
    new Uint8Array(seqLen * (dim / heads) * 4),
    t("output.weight"),
  ];
  const ckpt = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    ckpt.set(p, at);
    at += p.byteLength;
  }
  const out = llama2cToGguf(ckpt, readFileSync(tokPath!));
  expect(sha256(out)).toBe(sha256(g.bytes));
});

describe("bad llama2.c input", () => {
  const header = (...v: number[]) => new Uint8Array(new Int32Array(v).buffer);

  test("a short or inconsistent config", () => {
    expectLlmemError(
      () => llama2cToGguf(new Uint8Array(10), new Uint8Array(4)),
      "FORMAT_ERROR",
      "checkpoint header",
      "28",
    );
    expectLlmemError(
      () => readLlama2cConfig(header(64, 172, 5, 0, 4, 512, 128)),
      "FORMAT_ERROR",
      "n_heads",
      "at least 1",
    );
    expectLlmemError(
      () => readLlama2cConfig(header(64, 172, 5, 8, 3, 512, 128)),
      "FORMAT_ERROR",
      "n_kv_heads",
      "divide",
    );
    expectLlmemError(
      () => readLlama2cConfig(header(60, 172, 5, 8, 4, 512, 128)),
      "FORMAT_ERROR",
      "dim",
      "multiple",
    );
  });

  test.skipIf(!haveStories)("a truncated checkpoint or tokenizer", () => {
    const ckpt = readFileSync(ckptPath!);
    const tok = readFileSync(tokPath!);
    expectLlmemError(
      () => llama2cToGguf(ckpt.subarray(0, ckpt.byteLength - 4), tok),
      "FORMAT_ERROR",
      "checkpoint size",
      String(ckpt.byteLength),
    );
    expectLlmemError(
      () => llama2cToGguf(ckpt, tok.subarray(0, tok.byteLength - 1)),
      "FORMAT_ERROR",
      "tokenizer token 511",
      "truncated",
    );
    expectLlmemError(() => llama2cToGguf(ckpt, tok.subarray(0, 2)), "FORMAT_ERROR", "tokenizer", "truncated");
    const longer = new Uint8Array(tok.byteLength + 9);
    longer.set(tok);
    expectLlmemError(
      () => llama2cToGguf(ckpt, longer),
      "FORMAT_ERROR",
      "tokenizer size",
      "9 bytes are left",
      "512 tokens",
    );
  });
});
