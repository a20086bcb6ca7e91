import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import { BlockAllocator, BlockTable } from "../src/index.ts";

test("ensureCapacity allocates on demand and pads blocks to maxBlocksPerSeq", () => {
  const a = new BlockAllocator(8);
  const t = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 3 });
  expect(t.blocks).toHaveLength(3);
  t.ensureCapacity(5);
  expect(t.blockCount).toBe(2);
  expect(Array.from(t.blocks)).toEqual([0, 1, 0]);
  t.ensureCapacity(3); // idempotent
  expect(t.blockCount).toBe(2);
  expect(t.length).toBe(0);
});

test("ensureCapacity beyond maxBlocksPerSeq or the pool allocates nothing", () => {
  const a = new BlockAllocator(3);
  a.allocate();
  const t = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 3 });
  expect(() => t.ensureCapacity(13)).toThrow(LlmemError);
  let code = "";
  try {
    t.ensureCapacity(9);
  } catch (e) {
    code = (e as LlmemError).code;
  }
  expect(code).toBe("POOL_EXHAUSTED");
  expect(a.freeCount).toBe(2);
  expect(t.blockCount).toBe(0);
});

test("release frees tail first; hashed blocks stay findable", () => {
  const a = new BlockAllocator(4);
  const t = new BlockTable(a, { blockSize: 2, maxBlocksPerSeq: 4 });
  t.append(6);
  t.blockIds().forEach((b, i) => {
    a.registerBlockHash(b, BigInt(i));
  });
  t.release();
  expect(t.length).toBe(0);
  expect(Array.from(t.blocks)).toEqual([0, 0, 0, 0]);
  expect(a.hashTableSize).toBe(3);
  a.allocate(); // never-used block 3
  expect(a.allocate()).toBe(2); // the tail was freed first, so it is evicted first
  expect(a.tryAcquireByHash(0n)).toBe(0);
});

test("fork shares blocks; appending into a shared partial block copies it", () => {
  const a = new BlockAllocator(8);
  const parent = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 4 });
  expect(parent.append(6)).toBeNull();
  const child = parent.fork();
  expect(child.blockIds()).toEqual([0, 1]);
  expect(a.refCount(0)).toBe(2);
  const copy = child.append(1);
  expect(copy).toEqual({ src: 1, dst: 2 });
  expect(child.blockIds()).toEqual([0, 2]);
  expect(a.refCount(1)).toBe(1);
  expect(parent.append(1)).toBeNull(); // now private to the parent
  expect(child.length).toBe(7);
  // A full shared last block needs no copy: the next token starts a new block.
  const full = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 4 });
  full.append(4);
  const twin = full.fork();
  expect(twin.append(1)).toBeNull();
  expect(twin.blockCount).toBe(2);
});

test("a failed copy-on-write append changes nothing", () => {
  const a = new BlockAllocator(1);
  const t = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 2 });
  t.append(2);
  const f = t.fork();
  expect(() => f.append(1)).toThrow(LlmemError);
  expect(f.length).toBe(2);
  expect(a.refCount(0)).toBe(2);
});

test("adopt takes over matched blocks", () => {
  const a = new BlockAllocator(4);
  const blocks = a.allocateN(2);
  const t = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 4 });
  expect(() => t.adopt(blocks, 9)).toThrow(LlmemError);
  t.adopt(blocks, 8);
  expect(t.length).toBe(8);
  expect(t.append(1)).toBeNull();
  expect(t.blockCount).toBe(3);
});

test("truncate releases the tail and unhashes a private block that will be rewritten", () => {
  const a = new BlockAllocator(8);
  const t = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 4 });
  t.append(12);
  const [b0, b1, b2] = t.blockIds() as [number, number, number];
  a.registerBlockHash(b0, 0n);
  a.registerBlockHash(b1, 1n, { tokens: [1, 2, 3, 4], parent: b0 });
  a.registerBlockHash(b2, 2n, { tokens: [5, 6, 7, 8], parent: b1 });
  const gen = a.generation(b1);
  t.truncate(6); // keeps b0 (full) and 2 tokens of b1
  expect(t.length).toBe(6);
  expect(t.blockIds()).toEqual([b0, b1]);
  expect(a.refCount(b2)).toBe(0);
  expect(a.hashOfBlock(b2)).toBe(2n); // released whole: still cached
  expect(a.hashOfBlock(b1)).toBeUndefined(); // will be rewritten in place
  expect(a.generation(b1)).toBe(gen + 1);
  expect(a.hashOfBlock(b0)).toBe(0n);
  expect(() => t.truncate(7)).toThrow(LlmemError);
  // a shared partial block keeps its hash; the next append copies it
  const u = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 4 });
  u.append(8);
  const [, c1] = u.blockIds() as [number, number];
  a.registerBlockHash(c1, 9n);
  const v = u.fork();
  v.truncate(6);
  expect(a.hashOfBlock(c1)).toBe(9n);
  expect(v.append(1)).toEqual({ src: c1, dst: expect.any(Number) });
});

test("clearBlockHash drops the hash of a live block and needs a live block", () => {
  const a = new BlockAllocator(2);
  const b = a.allocate();
  a.registerBlockHash(b, 5n);
  a.clearBlockHash(b);
  expect(a.tryAcquireByHash(5n)).toBeNull();
  a.free([b]);
  expect(a.metrics().cachedBlocks).toBe(0);
  expect(() => a.clearBlockHash(b)).toThrow(LlmemError);
});
