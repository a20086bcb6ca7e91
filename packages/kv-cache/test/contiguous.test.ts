import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import { ContiguousKvCache } from "./contiguous.ts";

test("attention with one token returns its value; GQA maps heads to kv heads", () => {
  const cache = new ContiguousKvCache({ numKvHeads: 2, headDim: 2, maxTokens: 4 });
  cache.append(new Float32Array([1, 0, 0, 1]), new Float32Array([5, 6, 7, 8]));
  const out = cache.attend(new Float32Array([1, 1, 1, 1, 1, 1, 1, 1]), { numHeads: 4 });
  expect(Array.from(out)).toEqual([5, 6, 5, 6, 7, 8, 7, 8]);
});

test("softmax weights by score", () => {
  const cache = new ContiguousKvCache({ numKvHeads: 1, headDim: 1, maxTokens: 4 });
  cache.append(new Float32Array([0, Math.log(3)]), new Float32Array([0, 1]));
  const out = cache.attend(new Float32Array([1]), { numHeads: 1, scale: 1 });
  expect(out[0]).toBeCloseTo(0.75, 5);
});

test("bad appends change nothing", () => {
  const cache = new ContiguousKvCache({ numKvHeads: 1, headDim: 2, maxTokens: 1 });
  expect(() => cache.append(new Float32Array(3), new Float32Array(3))).toThrow(LlmemError);
  expect(() => cache.append(new Float32Array(4), new Float32Array(4))).toThrow(LlmemError);
  expect(cache.length).toBe(0);
});
