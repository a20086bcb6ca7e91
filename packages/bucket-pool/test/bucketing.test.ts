import { expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { BucketPool, fineBucketing, fixedBucketing, powerOfTwoBucket } from "../src/index.ts";

test("power-of-two buckets match the seed", () => {
  expect([0, 1, 2, 3, 4, 5, 1023, 1024, 1025].map(powerOfTwoBucket)).toEqual([
    1, 1, 2, 4, 4, 8, 1024, 1024, 2048,
  ]);
  const pool = new BucketPool();
  expect([0, 1, 3, 1023, 1025, 2 ** 32].map((n) => pool.bucketFor(n))).toEqual([
    1,
    1,
    4,
    1024,
    2048,
    2 ** 32,
  ]);
  pool.dispose();
});

test("fine classes cut the over-allocation to 1/k", () => {
  const fine = fineBucketing(4);
  const cap = (n: number) => fine.capacityOf(fine.classOf(n));
  expect([0, 1, 2, 3, 5, 1024, 1025, 1280, 1281, 2047, 2048].map(cap)).toEqual([
    1, 1, 2, 3, 5, 1024, 1280, 1280, 1536, 2048, 2048,
  ]);
  for (let n = 1; n < 70000; n += 97) {
    const c = cap(n);
    expect(c).toBeGreaterThanOrEqual(n);
    expect(c - n).toBeLessThanOrEqual(Math.max(1, n / 4));
  }
  expect(cap(2 ** 32)).toBe(2 ** 32);
  const one = fineBucketing(1);
  for (let n = 0; n < 5000; n += 7) expect(one.capacityOf(one.classOf(n))).toBe(powerOfTwoBucket(n));
});

test("fixed classes follow ruvllm's BufferSize::for_size", () => {
  const fixed = fixedBucketing();
  const cap = (n: number) => (fixed.classOf(n) < 0 ? null : fixed.capacityOf(fixed.classOf(n)));
  expect([512, 1024, 2000, 4096, 10000, 50000, 200000, 300000].map(cap)).toEqual([
    1024,
    1024,
    4096,
    4096,
    16384,
    65536,
    262144,
    null,
  ]);
  const pool = new BucketPool({ bucketing: "fixed" });
  expectLlmemError(() => pool.alloc(300000), "OUT_OF_RANGE", "byteLength", "262144");
  pool.dispose();
});

test("bad bucketing options are refused", () => {
  expectLlmemError(() => fineBucketing(3), "INVALID_ARGUMENT", "classesPerPowerOfTwo", "power of two");
  expectLlmemError(() => fixedBucketing([4096, 1024]), "INVALID_ARGUMENT", "ascending");
  expectLlmemError(() => fixedBucketing([]), "INVALID_ARGUMENT", "sizeClasses");
  expectLlmemError(() => fixedBucketing([1.5]), "INVALID_ARGUMENT", "sizeClasses[0]");
  expectLlmemError(() => new BucketPool({ bucketing: "odd" as never }), "INVALID_ARGUMENT", "bucketing");
  expectLlmemError(() => new BucketPool({ maxBufferBytes: 2 ** 33 }), "OUT_OF_RANGE", "maxBufferBytes");
  expectLlmemError(() => new BucketPool({ maxCachedBytes: -1 }), "OUT_OF_RANGE", "maxCachedBytes");
  expectLlmemError(() => new BucketPool({ backend: "gpu" as never }), "INVALID_ARGUMENT", "backend");
  expectLlmemError(() => new BucketPool({ sizeClasses: [1024] }), "INVALID_ARGUMENT", "sizeClasses", "fixed");
  expectLlmemError(() => new BucketPool({ classesPerPowerOfTwo: 2 }), "INVALID_ARGUMENT", "fine");
  const fine = new BucketPool({ bucketing: "fine", classesPerPowerOfTwo: 2 });
  expect(fine.bucketFor(1025)).toBe(1536);
  fine.dispose();
});
