import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import { BucketPool, powerOfTwoBucket } from "../src/index.ts";

test("power-of-two buckets match the seed", () => {
  expect([0, 1, 3, 1023, 1024, 1025].map(powerOfTwoBucket)).toEqual([1, 1, 4, 1024, 1024, 2048]);
});

test("reset returns buffers for reuse", () => {
  const pool = new BucketPool();
  const a = pool.alloc(1000);
  expect(a.capacity).toBe(1024);
  pool.reset();
  const b = pool.alloc(900);
  expect(b.buffer).toBe(a.buffer);
  expect(pool.stats()).toEqual({ freeCount: 0, inUseCount: 1, hits: 1, misses: 1 });
  pool.release(b);
  expect(() => pool.release(b)).toThrow(LlmemError);
});
