/** GGUF weights: zero-copy views in the file's formats, ggml's activation rounding, tied embeddings, hyperparameters. */
import { describe, expect, test } from "bun:test";
import { fixturePath } from "@llmem/core/testing";
import { openGguf, parseGguf } from "@llmem/gguf";
import { dequantize, f32ToF16Bits, matmul, matvec } from "@llmem/quant-kernels";
import { ggufModel } from "../src/gguf-model.ts";
import { applyLinear, LinearScratch } from "../src/linear.ts";
import type { MatvecKernels } from "../src/matvec.ts";
import { linears } from "../src/model-weights.ts";
import { rewrite, SMALL, smallGguf } from "./gguf-files.ts";

const kernels: MatvecKernels = {
  name: "quant-kernels",
  formats: ["f32"],
  prepare: () => {
    throw new Error("unused");
  },
  matvec,
  matmul,
  setThreads: () => {},
  threads: () => 1,
};

describe("applyLinear rounds x as ggml's matmul does", () => {
  // 1 + 2^-12 is not an fp16 (it rounds to 1); 1 + 2^-9 is not a bf16 (rounds to 1).
  const x = new Float32Array(32);
  const y = new Float32Array(1);
  const scratch = new LinearScratch(32);

  test("F16 weights: x to fp16 first", () => {
    x[0] = 1 + 2 ** -12;
    const w = { format: "f16" as const, rows: 1, cols: 32, data: new Uint16Array(32).fill(f32ToF16Bits(1)) };
    applyLinear(kernels, { w, round: "f16" }, x, y, scratch);
    expect(y[0]).toBe(1);
    applyLinear(kernels, { w }, x, y, scratch);
    expect(y[0]).toBe(Math.fround(1 + 2 ** -12));
  });

  test("BF16 weights (widened to f32): x to bf16 first; the bias is added after", () => {
    x[0] = 1 + 2 ** -9;
    const w = { format: "f32" as const, rows: 1, cols: 32, data: new Float32Array(32).fill(1) };
    applyLinear(kernels, { w, round: "bf16", bias: Float32Array.of(0.5) }, x, y, scratch);
    expect(y[0]).toBe(1.5);
  });
});

describe("ggufModel", () => {
  test("hyperparameters from the metadata, matrices as views of the file", () => {
    const bytes = smallGguf();
    const file = parseGguf(bytes);
    const { weights, architecture, contextLength } = ggufModel(file, { maxPositions: 16 });
    expect(architecture).toBe("llama");
    expect(contextLength).toBe(128); // the llama2c converter's constant
    expect(weights.config).toEqual({ ...SMALL, seqLen: 16 });
    expect(weights.numerics).toEqual({
      style: "ggml",
      rmsEps: Math.fround(1e-5),
      ropeTheta: 10000,
      ropeDims: 16,
      ropeNeox: false,
    });
    for (const m of linears(weights)) expect(m.w.data.buffer).toBe(bytes.buffer);
    expect(weights.formatLabel).toBe("f32");
  });

  test("metadata epsilon, rope base and dimension count are used", () => {
    const bytes = rewrite(smallGguf(), {
      metadata: {
        "llama.attention.layer_norm_rms_epsilon": 1e-6,
        "llama.rope.freq_base": 500000,
        "llama.rope.dimension_count": 8,
      },
    });
    const n = ggufModel(parseGguf(bytes)).weights.numerics;
    expect([n.rmsEps, n.ropeTheta, n.ropeDims]).toEqual([Math.fround(1e-6), 500000, 8]);
  });

  test("no output.weight: the classifier is token_embd's bytes (tied)", () => {
    const bytes = rewrite(smallGguf(), { tensors: (t) => (t.name === "output.weight" ? null : t) });
    const file = parseGguf(bytes);
    const w = ggufModel(file).weights;
    expect(w.config.sharedClassifier).toBe(true);
    expect(w.classifier.w.data).toEqual(file.tensorF32("token_embd.weight"));
    expect(w.classifier.w.data.byteOffset).toBe(file.tensor("token_embd.weight").data.byteOffset);
    expect(w.embedding.bytes).toBe(0);
  });

  const q8 = fixturePath("gguf", "stories260K-q8_0.gguf");
  test.skipIf(q8 === undefined)(
    "mixed types stay as stored; F16 ones round x; the embedding row is dequantized",
    () => {
      const file = openGguf(q8!);
      const w = ggufModel(file).weights;
      expect(w.formatLabel).toBe("q8_0 ×31, f16 ×5");
      const l0 = w.layers[0]!;
      expect([l0.wq.w.format, l0.wq.round]).toEqual(["q8_0", undefined]);
      expect([l0.w2.w.format, l0.w2.round]).toEqual(["f16", "f16"]);
      expect(l0.wq.w.data.buffer).toBe(file.bytes.buffer);
      const embd = file.tensor("token_embd.weight");
      const row = new Float32Array(64);
      w.embedding.row(300, row);
      expect(row as Float32Array).toEqual(
        dequantize("q8_0", embd.data.subarray(300 * 68, 301 * 68), 64) as Float32Array<ArrayBuffer>,
      );
    },
  );
});
