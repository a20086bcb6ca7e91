import { expect, test } from "bun:test";
import type { LlmemError } from "@llmem/core";
import { addressOf } from "@llmem/native";
import { Arena } from "../src/index.ts";

test("allocations are aligned, zeroed and bump-allocated", () => {
  const arena = new Arena(4096);
  const a = arena.alloc(Float32Array, 3);
  a.fill(1);
  const b = arena.alloc(Uint8Array, 1);
  expect(b.byteOffset % 64).toBe(0);
  if (arena.isNative) expect(addressOf(b) % 64).toBe(0);
  expect(arena.used).toBe(65);
  expect(arena.allocationCount).toBe(2);
  arena.reset();
  expect(arena.used).toBe(0);
  const c = arena.alloc(Float32Array, 3);
  expect(Array.from(c)).toEqual([0, 0, 0]);
  expect(arena.highWaterMark).toBe(65);
  arena.dispose();
});

test("full arena: alloc throws ARENA_EXHAUSTED, tryAlloc returns null, state unchanged", () => {
  const arena = new Arena(128);
  arena.alloc(Uint8Array, 100);
  expect(arena.tryAlloc(Uint8Array, 100)).toBeNull();
  try {
    arena.alloc(Uint8Array, 100);
    throw new Error("no throw");
  } catch (e) {
    expect((e as LlmemError).code).toBe("ARENA_EXHAUSTED");
  }
  expect(arena.used).toBe(100);
  arena.dispose();
});
