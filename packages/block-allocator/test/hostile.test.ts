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

test("fuzz finds: misuse of the allocator and the prefix cache is an LlmemError with nothing changed", async () => {
  const { refusesNaming } = await import("@llmem/core/testing");
  const { acquireCachedPrefix, commitFullBlocks, findCachedPrefix } = await import("../src/index.ts");
  const a = new BlockAllocator(8);
  const t = new BlockTable(a, { blockSize: 2, maxBlocksPerSeq: 4 });
  t.append(4);
  const [b0, b1] = t.blockIds() as [number, number];
  const snap = () => ({
    m: a.metrics(),
    h: [a.hashOfBlock(b0), a.hashOfBlock(b1)],
    r: [a.refCount(b0), a.refCount(b1)],
  });
  // accept that is not a function: a TypeError from inside tryAcquireByHash.
  refusesNaming(() => a.tryAcquireByHash(1n, 5 as never), "accept", snap);
  // A forged allocator passed instanceof; a null one was a TypeError in the prefix functions.
  refusesNaming(
    () => new BlockTable(Object.create(BlockAllocator.prototype), { blockSize: 2, maxBlocksPerSeq: 2 }),
    "allocator",
  );
  const keys = { blockSize: 2, hashes: [1n, 2n], tokens: [1, 2, 3, 4] };
  refusesNaming(() => findCachedPrefix(null as never, keys), "allocator");
  // Tokens/extra words `>>>` or slice() threw TypeErrors on.
  refusesNaming(
    () => a.registerBlockHash(b0, 9n, { tokens: [Symbol("t")] } as never),
    "content.tokens",
    snap,
  );
  refusesNaming(() => a.registerBlockHash(b0, 9n, { tokens: [5n] } as never), "content.tokens", snap);
  const detached = new Uint32Array(1);
  detached.buffer.transfer();
  refusesNaming(() => a.registerBlockHash(b0, 9n, { tokens: [1], extra: detached }), "content.extra", snap);
  refusesNaming(
    () => a.registerBlockHash(b0, 9n, { tokens: [1], extra: Object.create(Uint32Array.prototype) }),
    "content.extra",
    snap,
  );
  // commitFullBlocks registered block 0 before finding a bad hash, token or extra of block 1;
  // a NaN token was stored as 0.
  refusesNaming(
    () => commitFullBlocks(a, { ...keys, hashes: [1n, 2] as never }, [b0, b1], 0, -1),
    "keys.hashes",
    snap,
  );
  refusesNaming(
    () => commitFullBlocks(a, { ...keys, tokens: [1, 2, 3, Number.NaN] }, [b0, b1], 0, -1),
    "keys.tokens",
    snap,
  );
  refusesNaming(
    () => commitFullBlocks(a, { ...keys, extra: (i) => (i === 1 ? (5 as never) : null) }, [b0, b1], 0, -1),
    "keys.extra",
    snap,
  );
  refusesNaming(
    () => commitFullBlocks(a, { ...keys, extra: 5 as never }, [b0, b1], 0, -1),
    "keys.extra",
    snap,
  );
  // acquireCachedPrefix took (and counted a hit for) block 0 before a bad second hash threw.
  expect(commitFullBlocks(a, keys, [b0, b1], 0, -1)).toBe(2);
  refusesNaming(() => acquireCachedPrefix(a, { ...keys, hashes: [1n, null] as never }), "keys.hashes", snap);
});

test("fuzz finds: a detached view as a token is refused (String() of it threw building the message)", async () => {
  const { refusesNaming } = await import("@llmem/core/testing");
  const a = new BlockAllocator(2);
  const b = a.allocate();
  const detached = new Uint8Array(2);
  detached.buffer.transfer();
  refusesNaming(
    () => a.registerBlockHash(b, 1n, { tokens: [detached] } as never),
    "content.tokens",
    () => a.hashOfBlock(b),
  );
});
