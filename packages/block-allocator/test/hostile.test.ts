/** Issue 16 in block-allocator: id lists of any shape are LlmemErrors with nothing changed. */
import { expect, test } from "bun:test";
import { expectRefused } from "@llmem/core/testing";
import { BlockAllocator, BlockTable } from "../src/index.ts";

test("free / acquireMany refuse non-lists (free(5) was a silent no-op, free(null) a TypeError)", () => {
  const a = new BlockAllocator(8);
  const b = a.allocate();
  const snap = () => ({ ref: a.refCount(b), metrics: a.metrics() });
  for (const bad of [null, undefined, 5, "ab", { length: -1 }, { length: 2 ** 40 }, { length: 1.5 }]) {
    expectRefused(() => a.free(bad as never), snap);
    expectRefused(() => a.acquireMany(bad as never), snap);
  }
  // An element that changes between reads: checked and acted on as one value.
  let reads = 0;
  const shifty = {
    length: 1,
    get 0() {
      return reads++ === 0 ? b : 999;
    },
  };
  a.acquireMany(shifty);
  expect(a.refCount(b)).toBe(2);
});

test("BlockTable: adopt([b, b]) with one reference and a non-allocator are refused", () => {
  const a = new BlockAllocator(8);
  expectRefused(
    () => new BlockTable(null as never, { blockSize: 4, maxBlocksPerSeq: 4 }),
    undefined,
    "INVALID_ARGUMENT",
  );
  const t = new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 4 });
  const b = a.allocate();
  expectRefused(
    () => t.adopt([b, b], 8),
    () => ({ ids: t.blockIds(), ref: a.refCount(b) }),
    "INVALID_ARGUMENT",
  );
  a.acquire(b);
  t.adopt([b, b], 8);
  t.release();
  expect(a.refCount(b)).toBe(0);
});

test("registerBlockHash refuses content.tokens that is not a list", () => {
  const a = new BlockAllocator(4);
  const b = a.allocate();
  for (const tokens of [5, null, { length: -1 }]) {
    expectRefused(
      () => a.registerBlockHash(b, 7n, { tokens } as never),
      () => a.hashOfBlock(b)?.toString() ?? null,
    );
  }
});
