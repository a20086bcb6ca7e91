/** Issue 16 in bucket-pool: bucketing refuses sizes it cannot bucket; Metal buffers cannot be forged. */
import { expect, test } from "bun:test";
import { BAD_SIZES, expectRefused } from "@llmem/core/testing";
import fc from "fast-check";
import { fineBucketing, MetalBuffer, pow2Bucketing, powerOfTwoBucket } from "../src/index.ts";

test("powerOfTwoBucket never returns less than the request, and refuses what it cannot bucket", () => {
  expectRefused(() => powerOfTwoBucket(1.5), undefined, "INVALID_ARGUMENT");
  expectRefused(() => powerOfTwoBucket(2 ** 32 + 1), undefined, "OUT_OF_RANGE");
  for (const bad of BAD_SIZES) expectRefused(() => powerOfTwoBucket(bad as number));
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 }), (n) => powerOfTwoBucket(n) >= n));
});

test("pow2Bucketing / fineBucketing refuse a maxBytes that is not a size", () => {
  for (const bad of [-1, 0, Number.NaN, 2 ** 40, 1.5, Number.POSITIVE_INFINITY]) {
    expectRefused(() => pow2Bucketing(bad));
    expectRefused(() => fineBucketing(4, bad));
  }
  expect(pow2Bucketing(1024).maxBytes).toBe(1024);
});

test("a constructed MetalBuffer is refused: no made-up handle reaches the Metal release call", () => {
  const forged = new MetalBuffer(0xdead0, 16, new ArrayBuffer(16));
  expectRefused(() => forged.free(), undefined, "INVALID_ARGUMENT");
  expectRefused(() => forged.buffer, undefined, "INVALID_ARGUMENT");
  expectRefused(() => forged.onDevice, undefined, "INVALID_ARGUMENT");
});

test("a sparse sizeClasses array is refused before the pool exists", async () => {
  const { BucketPool } = await import("../src/index.ts");
  // biome-ignore lint/suspicious/noSparseArray: the hole is the hostile input
  expectRefused(() => new BucketPool({ bucketing: "fixed", sizeClasses: [1024, , 4096] } as never));
});

test("fuzz finds: sizes, sparse batches and view constructors are checked without TypeErrors or user code", async () => {
  const { refusesNaming } = await import("@llmem/core/testing");
  const { BucketPool } = await import("../src/index.ts");
  const pool = new BucketPool();
  const h = pool.alloc(64);
  const stats = () => pool.stats();
  // `byteLength >= 0` on the hot path: a symbol threw a TypeError, an object's valueOf ran.
  refusesNaming(() => pool.alloc(Symbol("n") as never), "byteLength", stats);
  let ran = false;
  const sneaky = {
    valueOf(): number {
      ran = true;
      return 64;
    },
  };
  refusesNaming(() => pool.alloc(sneaky as never), "byteLength", stats);
  expect(ran).toBe(false);
  // `map` skipped the hole, then the plan's undefined entry threw a TypeError.
  // biome-ignore lint/suspicious/noSparseArray: the hole is the hostile input
  refusesNaming(() => pool.allocBatch([64, , 64] as never), "requests", stats);
  // view(null) threw a TypeError reading BYTES_PER_ELEMENT; a look-alike failed at `new`.
  refusesNaming(() => h.view(null as never), "ctor", stats);
  refusesNaming(() => h.view({ BYTES_PER_ELEMENT: 4 } as never), "ctor", stats);
  refusesNaming(() => h.view(Float32Array, 0n as never), "byteOffset", stats);
});
