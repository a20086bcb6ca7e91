import { expect, test } from "bun:test";
import { codeOf } from "@llmem/core/testing";
import fc from "fast-check";
import {
  acquireCachedPrefix,
  BlockAllocator,
  BlockTable,
  commitFullBlocks,
  findCachedPrefix,
  type PrefixKeys,
} from "../src/index.ts";

const BS = 4;
const prompt = Array.from({ length: 13 }, (_, i) => 100 + i); // 3 full blocks + 1 token

/** A chained hash per full block (this package takes hashes from its caller; any chain will do). */
function keysFor(tokens: readonly number[], salt = 0, blockSize = BS): PrefixKeys {
  const hashes: bigint[] = [];
  let parent = BigInt(salt);
  for (let i = 0; i + blockSize <= tokens.length; i += blockSize) {
    parent = Bun.hash.wyhash(JSON.stringify([String(parent), tokens.slice(i, i + blockSize)]));
    hashes.push(parent);
  }
  const extra = salt === 0 ? null : Uint32Array.of(salt);
  return { blockSize, hashes, tokens, extra: (i) => (i === 0 ? extra : null) };
}

/** A finished request: its blocks are written, committed and released (soft-free, findable). */
function serve(a: BlockAllocator, tokens: readonly number[], salt = 0): number[] {
  const t = new BlockTable(a, { blockSize: BS, maxBlocksPerSeq: 16 });
  t.append(tokens.length);
  const keys = keysFor(tokens, salt);
  const full = t.blocks.subarray(0, keys.hashes.length);
  expect(commitFullBlocks(a, keys, full, 0, -1)).toBe(full.length);
  const blocks = t.blockIds();
  t.release();
  return blocks;
}

test("a second request finds the cached prefix, counts its soft-free blocks, and takes it", () => {
  const a = new BlockAllocator(32);
  const first = serve(a, prompt);
  const longer = [...prompt.slice(0, 12), 999, 998, 997, 996, 995];
  const keys = keysFor(longer);
  const free = a.freeCount;
  expect(findCachedPrefix(a, keys)).toEqual({ blocks: 3, evictable: 3 });
  expect(a.freeCount).toBe(free); // finding takes nothing
  const blocks = acquireCachedPrefix(a, keys);
  expect(blocks).toEqual(first.slice(0, 3));
  for (const b of blocks) expect(a.refCount(b)).toBe(1);
  expect(a.freeCount).toBe(free - 3); // the soft-free hits left the free count
  expect(a.metrics().hits).toBe(3);
  // while they are live, another request shares them without taking a free block
  expect(findCachedPrefix(a, keys)).toEqual({ blocks: 3, evictable: 0 });
  expect(findCachedPrefix(a, keys, 2)).toEqual({ blocks: 2, evictable: 0 }); // limit
});

test("a diverging prompt matches only the shared leading blocks; extra keys must match", () => {
  const a = new BlockAllocator(32);
  serve(a, prompt, 7);
  expect(findCachedPrefix(a, keysFor([...prompt.slice(0, 4), 1, 2, 3, 4, 5], 7)).blocks).toBe(1);
  expect(findCachedPrefix(a, keysFor(prompt, 7)).blocks).toBe(3);
  // same hashes but other extra words: verification refuses
  const forged = { ...keysFor(prompt, 7), extra: () => Uint32Array.of(8) };
  expect(findCachedPrefix(a, forged).blocks).toBe(0);
  expect(acquireCachedPrefix(a, forged)).toEqual([]);
});

test("verification rejects a colliding hash that points at foreign content", () => {
  const a = new BlockAllocator(32);
  const keys = keysFor(prompt);
  const foreign = a.allocate();
  a.registerBlockHash(foreign, keys.hashes[0]!, { tokens: [9, 9, 9, 9] });
  a.free([foreign]);
  expect(findCachedPrefix(a, keys).blocks).toBe(0);
  expect(acquireCachedPrefix(a, keys)).toEqual([]);
  expect(a.refCount(foreign)).toBe(0);
});

test("verification rejects a block whose parent was recycled since it was registered", () => {
  const a = new BlockAllocator(4);
  const [head] = serve(a, prompt.slice(0, 8)) as [number, number];
  const keys = keysFor(prompt);
  a.free([a.tryAcquireByHash(keys.hashes[1]!)!]); // the tail is now the most recently freed
  a.allocateN(2); // the never-used blocks
  expect(a.allocate()).toBe(head); // evicts the head, least recently freed
  // The head is rewritten with the same tokens and committed again: same hash, new generation.
  expect(commitFullBlocks(a, keys, [head], 0, -1)).toBe(1);
  a.free([head]);
  // The tail's KV was computed after the old head: verification stops before it.
  expect(findCachedPrefix(a, keys)).toEqual({ blocks: 1, evictable: 1 });
  expect(acquireCachedPrefix(a, keys)).toEqual([head]);
});

test("commit keeps a hash's first holder and stops the chain there", () => {
  const a = new BlockAllocator(16);
  const keys = keysFor(prompt);
  const t1 = new BlockTable(a, { blockSize: BS, maxBlocksPerSeq: 8 });
  const t2 = new BlockTable(a, { blockSize: BS, maxBlocksPerSeq: 8 });
  t1.append(12);
  t2.append(12);
  expect(commitFullBlocks(a, keys, t1.blocks.subarray(0, 2), 0, -1)).toBe(2);
  // t2 computed the same blocks privately: none of its blocks is registered
  expect(commitFullBlocks(a, keys, t2.blocks.subarray(0, 3), 0, -1)).toBe(0);
  expect(a.hashOfBlock(t2.blocks[2]!)).toBeUndefined();
  // t1 goes on from its own chain; re-committing a registered block is a no-op
  expect(commitFullBlocks(a, keys, t1.blocks.subarray(1, 3), 1, t1.blocks[0]!)).toBe(2);
  expect(acquireCachedPrefix(a, keys)).toEqual(t1.blockIds());
});

test("bad input is an LlmemError naming the argument, and changes nothing", () => {
  const a = new BlockAllocator(8);
  serve(a, prompt);
  const before = a.metrics();
  const keys = keysFor(prompt);
  expect(codeOf(() => findCachedPrefix(a, keys, 4))).toBe("OUT_OF_RANGE"); // 3 hashes
  expect(codeOf(() => findCachedPrefix(a, { ...keys, blockSize: 0 }))).toBe("OUT_OF_RANGE");
  expect(() => acquireCachedPrefix(a, { ...keys, tokens: prompt.slice(0, 8) })).toThrow(/keys\.tokens/);
  expect(codeOf(() => acquireCachedPrefix(a, null as unknown as PrefixKeys))).toBe("INVALID_ARGUMENT");
  expect(codeOf(() => commitFullBlocks(a, keys, [0, 1, 2], 0, -1))).toBe("BLOCK_NOT_LIVE"); // free blocks
  const b = a.allocate();
  expect(() => commitFullBlocks(a, keys, [b], 1, -1)).toThrow(/parent/);
  expect(() => commitFullBlocks(a, keys, [b], 3, b)).toThrow(/first \+ blocks\.length/); // block 3 is partial
  a.free([b]);
  const after = a.metrics();
  expect({ ...after, peakInUse: 0, evictions: 0 }).toEqual({ ...before, peakInUse: 0, evictions: 0 });
});

test("an acquisition that fails midway takes nothing", () => {
  const a = new BlockAllocator(8);
  const [b0, b1] = serve(a, prompt) as [number, number];
  const keys = keysFor(prompt);
  a.tryAcquireByHash(keys.hashes[0]!); // b0 live, ref 1
  for (let i = 1; i < 0xffff; i++) a.acquire(b0);
  expect(codeOf(() => acquireCachedPrefix(a, keys))).toBe("REFCOUNT_OVERFLOW");
  expect(a.refCount(b0)).toBe(0xffff);
  expect(a.refCount(b1)).toBe(0);
  // with b1 at the limit instead, b0 is taken first and must be given back
  a.free(Array.from({ length: 0xffff }, () => b0));
  a.tryAcquireByHash(keys.hashes[1]!);
  for (let i = 1; i < 0xffff; i++) a.acquire(b1);
  expect(codeOf(() => acquireCachedPrefix(a, keys))).toBe("REFCOUNT_OVERFLOW");
  expect(a.refCount(b0)).toBe(0);
  expect(a.refCount(b1)).toBe(0xffff);
});

// ---- model test -------------------------------------------------------------------------

const SMALL = 2;
const tokensArb = fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 9 });
type Op =
  | { kind: "admit"; tokens: number[]; salt: number }
  | { kind: "release"; which: number }
  | { kind: "forge"; tokens: number[]; index: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("admit" as const), tokens: tokensArb, salt: fc.nat(1) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("release" as const), which: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("forge" as const), tokens: tokensArb, index: fc.nat(4) }),
  },
);

/**
 * Runs ops as a paged cache drives the prefix cache (find, then all-or-nothing admission: take
 * the hits and allocate the rest, else change nothing; commit; release later) and checks it
 * against a model: which prefixes were committed (exact when the pool is large enough that
 * nothing is evicted), what each live sequence holds, and every block's reference count.
 */
function runOps(ops: Op[], capacity: number, exact: boolean): { hits: number; refused: number } {
  const a = new BlockAllocator(capacity);
  const committed = new Set<string>(); // model: salt + full blocks of every committed prefix
  const live: { table: BlockTable; tokens: number[] }[] = [];
  let hits = 0;
  let refused = 0;
  for (const op of ops) {
    if (op.kind === "forge") {
      // another block registered under one of these hashes with other content
      const h = keysFor(op.tokens, 0, SMALL).hashes[op.index];
      if (h === undefined || a.freeCount === 0) continue;
      const b = a.allocate();
      a.registerBlockHash(b, h, { tokens: [7, 7] });
      a.free([b]);
      continue;
    }
    if (op.kind === "release") {
      if (live.length === 0) continue;
      live.splice(op.which % live.length, 1)[0]!.table.release();
    } else {
      const keys = keysFor(op.tokens, op.salt, SMALL);
      const limit = Math.floor(Math.max(0, op.tokens.length - 1) / SMALL);
      const found = findCachedPrefix(a, keys, limit);
      if (exact) {
        let want = 0;
        while (want < limit && committed.has(`${op.salt}:${op.tokens.slice(0, (want + 1) * SMALL)}`)) want++;
        expect(found.blocks).toBe(want);
      }
      const needed = Math.ceil(op.tokens.length / SMALL) - found.blocks;
      let evictable = 0;
      const before = a.freeCount;
      if (needed + found.evictable > before) {
        refused++;
        continue; // refused: nothing taken
      }
      const blocks = acquireCachedPrefix(a, keys, found.blocks);
      expect(blocks.length).toBe(found.blocks); // finding and taking agree
      for (const b of blocks) if (a.refCount(b) === 1) evictable++;
      hits += blocks.length;
      const table = new BlockTable(a, { blockSize: SMALL, maxBlocksPerSeq: 8 });
      table.adopt(blocks, blocks.length * SMALL);
      table.append(op.tokens.length - blocks.length * SMALL); // cannot fail: admission counted it
      expect(a.freeCount).toBe(before - needed - found.evictable);
      expect(evictable).toBeLessThanOrEqual(found.evictable);
      blocks.forEach((b, i) => {
        const c = a.contentOfBlock(b)!;
        expect(Array.from(c.tokens)).toEqual(op.tokens.slice(i * SMALL, (i + 1) * SMALL));
        expect(c.parent).toBe(i === 0 ? -1 : blocks[i - 1]!);
      });
      const full = keys.hashes.length;
      const at = blocks.length;
      const done = commitFullBlocks(
        a,
        keys,
        table.blocks.subarray(at, full),
        at,
        at === 0 ? -1 : blocks[at - 1]!,
      );
      for (let i = 0; i < at + done; i++) committed.add(`${op.salt}:${op.tokens.slice(0, (i + 1) * SMALL)}`);
      live.push({ table, tokens: op.tokens });
    }
    // every block's reference count is the number of live tables holding it
    const refs = new Map<number, number>();
    for (const { table } of live) for (const b of table.blockIds()) refs.set(b, (refs.get(b) ?? 0) + 1);
    for (let b = 0; b < capacity; b++) expect(a.refCount(b)).toBe(refs.get(b) ?? 0);
  }
  for (const { table } of live) table.release();
  expect(a.inUse).toBe(0);
  return { hits, refused };
}

test("model: admission is all or nothing, counts soft-free hits, keeps refcounts; exact hits without eviction", () => {
  let hits = 0;
  let refused = 0;
  fc.assert(
    fc.property(
      fc.array(
        opArb.filter((o) => o.kind !== "forge"),
        { maxLength: 30 },
      ),
      (ops) => {
        const r = runOps(ops, 200, true);
        hits += r.hits;
      },
    ),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 30 }), fc.integer({ min: 3, max: 12 }), (ops, capacity) => {
      const r = runOps(ops, capacity, false);
      hits += r.hits;
      refused += r.refused;
    }),
    { numRuns: 300 },
  );
  expect(hits).toBeGreaterThan(0);
  expect(refused).toBeGreaterThan(0);
});
