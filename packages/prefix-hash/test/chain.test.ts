import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import { hashChain } from "../src/index.ts";

test("equal prefixes give equal leading hashes, partial block gets none", () => {
  const a = hashChain([1, 2, 3, 4, 5, 6, 7], 2);
  const b = hashChain([1, 2, 3, 4, 9, 9], 2);
  expect(a).toHaveLength(3);
  expect(b).toHaveLength(3);
  expect(a.slice(0, 2)).toEqual(b.slice(0, 2));
  expect(a[2]).not.toBe(b[2]!);
});

test("a block's hash depends on its parent", () => {
  const a = hashChain([1, 2, 5, 6], 2);
  const b = hashChain([3, 4, 5, 6], 2);
  expect(a[1]).not.toBe(b[1]!);
});

test("bad token ids are rejected", () => {
  expect(() => hashChain([1, -1], 2)).toThrow(LlmemError);
  expect(() => hashChain([1, 2 ** 32], 2)).toThrow(LlmemError);
  expect(() => hashChain([1, 0.5], 2)).toThrow(LlmemError);
});
