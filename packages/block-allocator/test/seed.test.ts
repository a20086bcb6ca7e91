// The seed's (ferrum paged_kv.rs) unit-test expectations, rewritten for this API.
import { expect, test } from "bun:test";
import { codeOf } from "@llmem/core/testing";
import { BlockAllocator } from "../src/index.ts";

test("allocator basic: ascending ids, exhaustion, recently freed first", () => {
  const a = new BlockAllocator(4);
  expect(a.freeCount).toBe(4);
  expect([a.allocate(), a.allocate(), a.allocate(), a.allocate()]).toEqual([0, 1, 2, 3]);
  expect(codeOf(() => a.allocate())).toBe("POOL_EXHAUSTED");
  expect(a.freeCount).toBe(0);
  a.free([1, 3]);
  expect(a.freeCount).toBe(2);
  expect(a.allocate()).toBe(3);
  expect(a.allocate()).toBe(1);
});

test("allocateN is atomic", () => {
  const a = new BlockAllocator(3);
  a.allocate();
  a.allocate();
  expect(codeOf(() => a.allocateN(2))).toBe("POOL_EXHAUSTED");
  expect(a.freeCount).toBe(1);
});

test("peak in use never decreases", () => {
  const a = new BlockAllocator(8);
  const blocks = a.allocateN(5);
  expect(a.peakInUse).toBe(5);
  a.free(blocks);
  expect(a.peakInUse).toBe(5);
  a.allocateN(3);
  expect(a.peakInUse).toBe(5);
});

test("refcounts: allocate starts at one, acquire increments", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  expect(a.refCount(b)).toBe(1);
  a.acquire(b);
  a.acquire(b);
  expect(a.refCount(b)).toBe(3);
});

test("free decrements; the block returns to the pool only at zero", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  a.acquire(b);
  a.free([b]);
  expect(a.refCount(b)).toBe(1);
  expect(a.freeCount).toBe(3);
  a.free([b]);
  expect(a.refCount(b)).toBe(0);
  expect(a.freeCount).toBe(4);
});

test("single-reference callers see plain allocate/free", () => {
  const a = new BlockAllocator(2);
  const b = a.allocate();
  expect(a.freeCount).toBe(1);
  a.free([b]);
  expect(a.freeCount).toBe(2);
  expect(a.refCount(b)).toBe(0);
  expect(a.allocate()).toBe(b);
});

test("bulk acquire and release", () => {
  const a = new BlockAllocator(8);
  const blocks = a.allocateN(3);
  a.acquireMany(blocks);
  for (const b of blocks) expect(a.refCount(b)).toBe(2);
  a.free(blocks);
  expect(a.freeCount).toBe(5);
  a.free(blocks);
  expect(a.freeCount).toBe(8);
});

test("register and acquire a live block by hash", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  a.registerBlockHash(b, 0xdeadbeefn);
  expect(a.hashTableSize).toBe(1);
  expect(a.tryAcquireByHash(0xdeadbeefn)).toBe(b);
  expect(a.refCount(b)).toBe(2);
});

test("soft-free resurrection", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  a.registerBlockHash(b, 0xabcd1234n);
  a.free([b]);
  expect(a.freeCount).toBe(4);
  expect(a.refCount(b)).toBe(0);
  expect(a.tryAcquireByHash(0xabcd1234n)).toBe(b);
  expect(a.refCount(b)).toBe(1);
  expect(a.freeCount).toBe(3);
});

test("a miss returns null with no side effects", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  a.registerBlockHash(b, 1n);
  expect(a.tryAcquireByHash(99n)).toBeNull();
  expect(a.refCount(b)).toBe(1);
  expect(a.freeCount).toBe(3);
});

test("recycling a cached block erases its hash", () => {
  const a = new BlockAllocator(2);
  const b1 = a.allocate();
  a.allocate();
  a.registerBlockHash(b1, 0x1234n);
  a.free([b1]);
  expect(a.hashTableSize).toBe(1);
  expect(a.allocate()).toBe(b1);
  expect(a.hashTableSize).toBe(0);
  expect(a.tryAcquireByHash(0x1234n)).toBeNull();
});

test("allocate prefers a clean block over a cached one", () => {
  const a = new BlockAllocator(3);
  const cached = a.allocate();
  a.registerBlockHash(cached, 0xcafebaben);
  a.free([cached]);
  const fresh = a.allocate();
  expect(fresh).not.toBe(cached);
  expect(a.hashTableSize).toBe(1);
  expect(a.tryAcquireByHash(0xcafebaben)).toBe(cached);
});

test("re-registering replaces a block's hash", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  a.registerBlockHash(b, 1n);
  a.registerBlockHash(b, 2n);
  expect(a.hashTableSize).toBe(1);
  expect(a.tryAcquireByHash(1n)).toBeNull();
  expect(a.tryAcquireByHash(2n)).toBe(b);
});
