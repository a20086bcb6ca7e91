import { expect, test } from "bun:test";
import { PoolExhaustedError } from "@llmem/core";
import { codeOf } from "@llmem/core/testing";
import { BlockAllocator } from "../src/index.ts";

function snapshot(a: BlockAllocator) {
  const refs = Array.from({ length: a.capacity }, (_, b) => a.refCount(b));
  return { refs, free: a.freeCount, hashes: a.hashTableSize, metrics: a.metrics() };
}

test("double free is DOUBLE_FREE and changes nothing, also within one call", () => {
  const a = new BlockAllocator(4);
  const [x, y] = a.allocateN(2) as [number, number];
  a.free([x]);
  const before = snapshot(a);
  expect(codeOf(() => a.free([x]))).toBe("DOUBLE_FREE");
  expect(codeOf(() => a.free([y, y]))).toBe("DOUBLE_FREE");
  expect(snapshot(a)).toEqual(before);
});

test("acquire and registerBlockHash on a free block are BLOCK_NOT_LIVE", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  a.free([b]);
  const before = snapshot(a);
  expect(codeOf(() => a.acquire(b))).toBe("BLOCK_NOT_LIVE");
  expect(codeOf(() => a.acquire(3))).toBe("BLOCK_NOT_LIVE");
  expect(codeOf(() => a.registerBlockHash(b, 1n))).toBe("BLOCK_NOT_LIVE");
  expect(codeOf(() => a.acquireMany([b]))).toBe("BLOCK_NOT_LIVE");
  expect(snapshot(a)).toEqual(before);
});

test("hostile ids: out of range, fractional, NaN, strings", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  const before = snapshot(a);
  for (const bad of [-1, 4, 2 ** 32, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(["OUT_OF_RANGE", "INVALID_ARGUMENT"]).toContain(codeOf(() => a.free([bad])) ?? "no error");
    expect(["OUT_OF_RANGE", "INVALID_ARGUMENT"]).toContain(codeOf(() => a.acquire(bad)) ?? "no error");
    expect(["OUT_OF_RANGE", "INVALID_ARGUMENT"]).toContain(codeOf(() => a.refCount(bad)) ?? "no error");
  }
  expect(codeOf(() => a.free([b, "0" as unknown as number]))).toBe("INVALID_ARGUMENT");
  expect(codeOf(() => a.registerBlockHash(b, 5 as unknown as bigint))).toBe("INVALID_ARGUMENT");
  expect(codeOf(() => a.registerBlockHash(b, 5n, { tokens: [1, -2] }))).toBe("INVALID_ARGUMENT");
  expect(codeOf(() => a.allocateN(5))).toBe("OUT_OF_RANGE");
  expect(codeOf(() => a.allocateN(-1))).toBe("OUT_OF_RANGE");
  expect(codeOf(() => new BlockAllocator(0))).toBe("OUT_OF_RANGE");
  expect(snapshot(a)).toEqual(before);
});

test("pool exhausted carries requested and available", () => {
  const a = new BlockAllocator(3);
  a.allocate();
  try {
    a.allocateN(3);
    throw new Error("unreachable");
  } catch (e) {
    expect(e).toBeInstanceOf(PoolExhaustedError);
    expect((e as PoolExhaustedError).code).toBe("POOL_EXHAUSTED");
    expect((e as PoolExhaustedError).requested).toBe(3);
    expect((e as PoolExhaustedError).available).toBe(2);
  }
  a.allocateN(2);
  expect(codeOf(() => a.allocate())).toBe("POOL_EXHAUSTED");
});

test("refcount overflow is an error, not a wrap", () => {
  const a = new BlockAllocator(2);
  const b = a.allocate();
  for (let i = 1; i < 0xffff; i++) a.acquire(b);
  expect(a.refCount(b)).toBe(0xffff);
  expect(codeOf(() => a.acquire(b))).toBe("REFCOUNT_OVERFLOW");
  const c = a.allocate();
  expect(codeOf(() => a.acquireMany([c, b]))).toBe("REFCOUNT_OVERFLOW");
  expect(a.refCount(c)).toBe(1);
  a.registerBlockHash(b, "full");
  expect(codeOf(() => a.tryAcquireByHash("full"))).toBe("REFCOUNT_OVERFLOW");
  expect(a.refCount(b)).toBe(0xffff);
});

test("cached blocks are evicted least recently freed first, in O(1) per step", () => {
  const a = new BlockAllocator(4);
  const blocks = a.allocateN(4);
  blocks.forEach((b, i) => {
    a.registerBlockHash(b, BigInt(i));
  });
  // A sequence is released tail first: 3, 2, 1, 0 → 3 is the least recently freed.
  a.free([3, 2, 1, 0]);
  expect(a.metrics().cachedBlocks).toBe(4);
  expect(a.tryAcquireByHash(2n)).toBe(2); // resurrect from the middle of the list
  expect(a.allocate()).toBe(3);
  expect(a.allocate()).toBe(1);
  expect(a.hashTableSize).toBe(2);
  const m = a.metrics();
  expect(m.evictions).toBe(2);
  expect(m.hits).toBe(1);
  expect(m.cachedBlocks).toBe(1);
  expect(m.inUse).toBe(3);
  expect(m.usage).toBe(0.75);
});

test("a hash taken over by another block leaves the old block clean", () => {
  const a = new BlockAllocator(3);
  const [x, y] = a.allocateN(2) as [number, number];
  a.registerBlockHash(x, "h");
  a.free([x]);
  a.registerBlockHash(y, "h"); // last writer wins
  expect(a.hashOfBlock(x)).toBeUndefined();
  expect(a.metrics().cachedBlocks).toBe(0);
  expect(a.allocate()).toBe(x); // clean again: reused before the never-used block 2
});

test("a verifier can reject a hit without side effects", () => {
  const a = new BlockAllocator(2);
  const b = a.allocate();
  a.registerBlockHash(b, 7n, { tokens: [1, 2] });
  a.free([b]);
  expect(a.tryAcquireByHash(7n, () => false)).toBeNull();
  expect(a.refCount(b)).toBe(0);
  expect(a.metrics().misses).toBe(1);
  expect(a.tryAcquireByHash(7n, (blk) => a.contentOfBlock(blk)!.tokens[1] === 2)).toBe(b);
});
