import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fixturePath } from "@llmem/core/testing";
import { openGguf, parseGguf, writeGguf, writeInputFrom } from "../src/index.ts";

/** What the fixtures README (../shared/models/gguf/README.md) lists for each file. */
const FIXTURES = [
  {
    file: "stories260K-f32.gguf",
    sha256: "047bf46455a544931cff6fef14d7910154c56afbc23ab1c5e56a72e69912c04b",
    types: { f32: 48 },
  },
  {
    file: "stories260K-q8_0.gguf",
    sha256: "ab85159be0538ee0885e6927480d270db9764f0c329bb0b61713fe3e46a5b0d4",
    types: { f16: 5, f32: 11, q8_0: 32 },
  },
  {
    file: "synthk-f32.gguf",
    sha256: "2ce167e747cd36d710f45f8eec7811170c98978e227e47d4a9fe610c0071324b",
    types: { f32: 30 },
  },
  {
    file: "synthk-q4_k_m.gguf",
    sha256: "f4a870e5718e6ef2ed4cd9b9d3e1f083ef66c4ef84c2eaf977bf9de02ebcd43c",
    types: { f32: 7, q4_K: 20, q6_K: 3 },
  },
  {
    file: "ggml-vocab-llama-spm.gguf",
    sha256: "16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69",
    types: {},
  },
  {
    file: "ggml-vocab-gpt-2.gguf",
    sha256: "cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac",
    types: {},
  },
  {
    file: "ggml-vocab-phi-3.gguf",
    sha256: "967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326",
    types: {},
  },
] as const;

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

for (const fx of FIXTURES) {
  const path = fixturePath("gguf", fx.file);
  describe.skipIf(path === undefined)(fx.file, () => {
    test("parses with the tensor types the fixtures README lists", () => {
      const file = openGguf(path!);
      expect(file.version).toBe(3);
      expect(file.alignment).toBe(32);
      const counts: Record<string, number> = {};
      for (const t of file.tensorInfos) counts[t.type.name] = (counts[t.type.name] ?? 0) + 1;
      expect(counts).toEqual(fx.types);
      for (const t of file.tensorInfos) {
        const view = file.tensor(t.name);
        expect(view.data.buffer).toBe(file.bytes.buffer); // a view, not a copy
        expect(view.data.byteLength).toBe(t.byteLength);
        expect(view.fileOffset % 32).toBe(0);
      }
    });

    test("writing it back gives the same bytes (sha256 from the README)", () => {
      const bytes = readFileSync(path!);
      expect(sha256(bytes)).toBe(fx.sha256);
      const out = writeGguf(writeInputFrom(parseGguf(bytes)));
      expect(out.byteLength).toBe(bytes.byteLength);
      expect(sha256(out)).toBe(fx.sha256);
    });
  });
}

const q4km = fixturePath("gguf", "synthk-q4_k_m.gguf");
test.skipIf(q4km === undefined)("synthk-q4_k_m: per-tensor types, shapes and byte sizes", () => {
  const file = openGguf(q4km!);
  const q6k = ["output.weight", "blk.2.attn_v.weight", "blk.2.ffn_down.weight"];
  for (const name of q6k) expect(file.tensor(name).type.name).toBe("q6_K");
  expect(file.tensor("blk.0.attn_q.weight").type.name).toBe("q4_K");
  expect(file.tensor("output_norm.weight").type.name).toBe("f32");
  // dim 256, hidden 768, vocab 512: ffn_down is [768, 256] (row length first, ggml order).
  const down = file.tensor("blk.2.ffn_down.weight");
  expect(down.dims).toEqual([768, 256]);
  expect(down.byteLength).toBe((768 / 256) * 210 * 256);
  expect(file.getNumber("llama.embedding_length")).toBe(256);
  expect(file.getNumber("general.file_type")).toBe(15);
});

const f32 = fixturePath("gguf", "stories260K-f32.gguf");
test.skipIf(f32 === undefined)("stories260K-f32: F32 views hold the weights, metadata getters", () => {
  const file = openGguf(f32!);
  const norm = file.tensorF32("output_norm.weight");
  expect(norm.length).toBe(64);
  expect(norm.buffer).toBe(file.bytes.buffer);
  const tok = file.tensor("token_embd.weight");
  expect(tok.dims).toEqual([64, 512]);
  expect(file.tensorF32("token_embd.weight")[0]).toBe(
    new DataView(tok.data.buffer, tok.data.byteOffset).getFloat32(0, true),
  );
  expect(file.getString("general.architecture")).toBe("llama");
  expect(file.getStringArray("tokenizer.ggml.tokens")).toHaveLength(512);
  expect(file.getNumericArray("tokenizer.ggml.scores")).toBeInstanceOf(Float32Array);
  expect(file.getNumericArray("tokenizer.ggml.token_type")).toBeInstanceOf(Int32Array);
  expect(file.getNumber("llama.attention.layer_norm_rms_epsilon")).toBe(Math.fround(1e-5));
  expect(file.getNumber("tokenizer.ggml.padding_token_id")).toBe(4294967295);
});

const q8 = fixturePath("gguf", "stories260K-q8_0.gguf");
test.skipIf(q8 === undefined)("stories260K-q8_0: ffn_down is F16 (172-long rows), F16 view", () => {
  const file = openGguf(q8!);
  const down = file.tensorF16("blk.0.ffn_down.weight");
  expect(down).toBeInstanceOf(Uint16Array);
  expect(down.length).toBe(172 * 64);
  expect(file.tensor("blk.0.attn_q.weight").type.name).toBe("q8_0");
});

const spm = fixturePath("gguf", "ggml-vocab-llama-spm.gguf");
test.skipIf(spm === undefined)("vocab-only llama-spm: no tensors, tokenizer metadata", () => {
  const file = openGguf(spm!);
  expect(file.tensorInfos).toHaveLength(0);
  expect(file.getStringArray("tokenizer.ggml.tokens")).toHaveLength(32000);
  expect(file.getBool("tokenizer.ggml.add_bos_token")).toBe(true);
  expect(file.getString("tokenizer.ggml.pre")).toBe("default");
});
