import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import { BlockAllocator } from "../src/index.ts";

test("fresh pool yields ascending ids and recycles freed blocks first", () => {
  const a = new BlockAllocator(4);
  expect([a.allocate(), a.allocate(), a.allocate()]).toEqual([0, 1, 2]);
  a.free([1]);
  expect(a.freeCount).toBe(2);
  expect(a.allocate()).toBe(1);
});

test("double free is an error and changes nothing", () => {
  const a = new BlockAllocator(2);
  const b = a.allocate();
  a.free([b]);
  expect(() => a.free([b])).toThrow(LlmemError);
  expect(a.freeCount).toBe(2);
});

test("exhaustion reports POOL_EXHAUSTED", () => {
  const a = new BlockAllocator(1);
  a.allocate();
  try {
    a.allocate();
  } catch (e) {
    expect((e as LlmemError).code).toBe("POOL_EXHAUSTED");
  }
});
