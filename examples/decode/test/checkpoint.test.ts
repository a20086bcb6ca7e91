import { describe, expect, test } from "bun:test";
import { isLlmemError } from "@llmem/core";
import fc from "fast-check";
import { allocCheckpointBuffer, viewCheckpoint } from "../src/checkpoint.ts";
import { checkpointBytes, encodeHeader, type ModelConfig } from "../src/config.ts";
import { syntheticCheckpoint } from "../src/synthetic.ts";

const shape: ModelConfig = {
  dim: 32,
  hiddenDim: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 40,
  seqLen: 16,
  sharedClassifier: false,
};

function padded(bytes: Uint8Array): Uint8Array {
  const p = allocCheckpointBuffer(bytes.length);
  p.set(bytes, p.length - bytes.length);
  return p;
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isLlmemError(e) ? `${e.code}: ${e.message}` : `other: ${e}`;
  }
  return "no error";
}

describe("checkpoint reader", () => {
  test("views every tensor in run.c's order, 64-byte aligned, with a separate classifier", () => {
    const buf = syntheticCheckpoint(shape);
    const c = viewCheckpoint(buf, "m");
    expect(c.config).toEqual(shape);
    expect(c.tensors.tokenEmbedding.byteOffset % 64).toBe(0);
    expect(c.tensors.wk.length).toBe(2 * 32 * 16);
    expect(c.tensors.wcls).not.toBe(c.tensors.tokenEmbedding);
    expect(c.weightBytes).toBe(checkpointBytes(shape) - 28);
  });
  test("a positive vocab_size shares the classifier with the embedding table", () => {
    const c = viewCheckpoint(syntheticCheckpoint({ ...shape, sharedClassifier: true }), "m");
    expect(c.tensors.wcls).toBe(c.tensors.tokenEmbedding);
  });
  test("any truncation or extra bytes is a FORMAT_ERROR naming both sizes", () => {
    const file = syntheticCheckpoint(shape).subarray(36);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: file.length + 64 }), (n) => {
        if (n === file.length) return true;
        const bytes = new Uint8Array(n);
        bytes.set(file.subarray(0, Math.min(n, file.length)));
        return message(() => viewCheckpoint(padded(bytes), "m")).startsWith("FORMAT_ERROR");
      }),
      { numRuns: 200 },
    );
    expect(message(() => viewCheckpoint(padded(file.subarray(0, file.length - 4)), "m"))).toMatch(
      /FORMAT_ERROR: m is truncated: \d+ bytes, but its header \(dim 32, .*\) needs exactly \d+/,
    );
  });
  test("malformed headers", () => {
    const bad = (patch: Partial<ModelConfig>) =>
      message(() => viewCheckpoint(padded(encodeHeader({ ...shape, ...patch })), "m"));
    expect(bad({ dim: 0 })).toMatch(/header dim is 0/);
    expect(bad({ nKvHeads: 3 })).toMatch(/n_kv_heads is 3, it must divide n_heads 4/);
    expect(bad({ dim: 36 })).toMatch(/dim 36 must be n_heads 4 times an even head size/);
    expect(bad({ seqLen: -1 })).toMatch(/seq_len is -1/);
    expect(bad({ hiddenDim: 2 ** 30 })).toMatch(/hidden_dim is 1073741824/);
    const magic = new Uint8Array(28);
    new DataView(magic.buffer).setUint32(0, 0x616b3432, true);
    expect(message(() => viewCheckpoint(padded(magic), "m"))).toMatch(/versioned export/);
  });
});
