/**
 * Issue 16, fuzzed: every argument of the allocator, the block table and the prefix-cache
 * functions, given hostile values (non-ids, free blocks, lists with holes or lying lengths,
 * repeated ids, bad hashes/tokens/extra words at any position, forged allocators), throws an
 * LlmemError naming the argument, and the observable state reads the same afterwards: every
 * block's ref count, generation, hash and content, the metrics (free count, hits, misses,
 * evictions, hash-table size) and each table's ids and length.
 */
import { test } from "bun:test";
import { isDetachedView, typedArrayKind } from "@llmem/core";
import {
  assertCallsRefused,
  hostileScalar,
  hostileValue,
  lyingView,
  refusesNaming,
  wrongType,
} from "@llmem/core/testing";
import fc from "fast-check";
import {
  acquireCachedPrefix,
  BlockAllocator,
  BlockTable,
  commitFullBlocks,
  findCachedPrefix,
  type PrefixKeys,
} from "../src/index.ts";

// A failing property prints the error it threw (which check, which state changed), not only the input.
fc.configureGlobal({ includeErrorInReport: true });
const RUNS = 120;
const N = 16;
const BS = 4;

function keysFor(tokens: readonly number[], salt: number): PrefixKeys {
  const hashes: bigint[] = [];
  let parent = BigInt(salt);
  for (let i = 0; i + BS <= tokens.length; i += BS) {
    parent = Bun.hash.wyhash(JSON.stringify([String(parent), tokens.slice(i, i + BS)]));
    hashes.push(parent);
  }
  return { blockSize: BS, hashes, tokens, extra: (i) => (i === 0 ? Uint32Array.of(salt) : null) };
}

/**
 * An allocator with live, shared, hashed and soft-free (cached) blocks, and a table holding
 * a committed prefix: the state every refused call must leave as it was.
 */
function world() {
  const a = new BlockAllocator(N);
  const served = new BlockTable(a, { blockSize: BS, maxBlocksPerSeq: 8 });
  const old = Array.from({ length: 9 }, (_, i) => 200 + i);
  served.append(old.length);
  commitFullBlocks(a, keysFor(old, 3), served.blocks.subarray(0, 2), 0, -1);
  served.release(); // two soft-free hashed blocks
  const table = new BlockTable(a, { blockSize: BS, maxBlocksPerSeq: 8 });
  const prompt = Array.from({ length: 10 }, (_, i) => 100 + i);
  const keys = keysFor(prompt, 5);
  table.append(prompt.length);
  commitFullBlocks(a, keys, table.blocks.subarray(0, 2), 0, -1);
  const fork = table.fork(); // every block of `table` shared (ref 2)
  const live = table.blockIds();
  const free = Array.from({ length: N }, (_, b) => b).filter((b) => a.refCount(b) === 0);
  const snapshot = () => ({
    blocks: Array.from({ length: N }, (_, b) => [
      a.refCount(b),
      a.generation(b),
      a.hashOfBlock(b),
      a.contentOfBlock(b),
    ]),
    metrics: a.metrics(),
    tables: [table, fork].map((t) => [t.blockIds(), t.length, Array.from(t.blocks)]),
  });
  return { a, table, fork, keys, prompt, live, free, snapshot };
}

/** Not an integer: hostile scalars, wrong types, views and fake objects. */
const notInt = hostileValue.filter((v) => !(typeof v === "number" && Number.isInteger(v)));
/** Not a block id of an N-block pool. */
const badId = fc.oneof(notInt, fc.constantFrom(-1, N, 2 ** 31, 2 ** 53));

type World = ReturnType<typeof world>;
/** A list of block ids with one bad entry (a non-id, or, for `live`, a free block) among live ones. */
function badList(w: World, live: boolean): fc.Arbitrary<unknown> {
  return fc.oneof(
    hostileValue.filter((v) => !ArrayBuffer.isView(v) || (v as Uint8Array).length > 0),
    fc.constantFrom(-1, 1.5, 2 ** 40, Number.NaN, "2").map((length) => ({ length })),
    fc
      .record({ at: fc.nat(3), bad: live ? fc.oneof(badId, fc.constant(w.free[0]!)) : badId })
      .map(({ at, bad }) => {
        const list: unknown[] = [...w.live];
        list.splice(at % (list.length + 1), 0, bad);
        return list;
      }),
    // A hole among live ids: reads as undefined.
    fc.nat(w.live.length).map((at) => {
      const list: unknown[] = [...w.live, w.live[0]];
      delete list[at];
      return list;
    }),
  );
}

test("BlockAllocator methods refuse hostile ids, lists, hashes and content, changing nothing", () => {
  const cases = (w: World): fc.Arbitrary<[RegExp, () => unknown]> =>
    fc.oneof(
      badId.map((v): [RegExp, () => unknown] => [/n\b|exhausted/, () => w.a.allocateN(v as number)]),
      fc.constant<[RegExp, () => unknown]>([/n\b/, () => w.a.allocateN(N + 1)]),
      fc
        .oneof(badId, fc.constant(w.free[0]!))
        .map((v): [RegExp, () => unknown] => [/block/, () => w.a.acquire(v as number)]),
      badList(w, true).map((v): [RegExp, () => unknown] => [/blocks/, () => w.a.acquireMany(v as never)]),
      badList(w, false).map((v): [RegExp, () => unknown] => [/blocks/, () => w.a.free(v as never)]),
      // A double free: a free block, or a block listed more often than it is held.
      fc.constant<[RegExp, () => unknown]>([/blocks/, () => w.a.free([w.live[0]!, w.live[0]!, w.live[0]!])]),
      fc.constant<[RegExp, () => unknown]>([/blocks/, () => w.a.free([w.live[0]!, w.free[0]!])]),
      badId.map((v): [RegExp, () => unknown] => [/block/, () => w.a.refCount(v as number)]),
      badId.map((v): [RegExp, () => unknown] => [/block/, () => w.a.generation(v as number)]),
      badId.map((v): [RegExp, () => unknown] => [/block/, () => w.a.hashOfBlock(v as number)]),
      badId.map((v): [RegExp, () => unknown] => [/block/, () => w.a.contentOfBlock(v as number)]),
      fc
        .oneof(badId, fc.constant(w.free[0]!))
        .map((v): [RegExp, () => unknown] => [/block/, () => w.a.clearBlockHash(v as number)]),
      fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(Symbol("h"), {}, [1n]))
        .filter((v) => typeof v !== "bigint" && typeof v !== "string")
        .chain((v) =>
          fc.constantFrom<[RegExp, () => unknown][]>(
            [/hash/, () => w.a.peekHash(v as never)],
            [/hash/, () => w.a.tryAcquireByHash(v as never)],
            [/hash/, () => w.a.registerBlockHash(w.live[0]!, v as never)],
          ),
        ),
      fc
        .constantFrom(5, "yes", {}, Symbol("a"), 1n)
        .map((v): [RegExp, () => unknown] => [
          /accept/,
          () => w.a.tryAcquireByHash(w.keys.hashes[0]!, v as never),
        ]),
      fc
        .oneof(badId, fc.constant(w.free[0]!))
        .map((v): [RegExp, () => unknown] => [/block/, () => w.a.registerBlockHash(v as number, 9n)]),
      fc
        .oneof(
          fc.constantFrom(null, 5, "t", Symbol("c"), {}, { tokens: undefined }),
          fc
            .oneof(hostileValue, lyingView)
            .filter((t) => !Object.is(t, -0))
            .map((tokens) => ({ tokens: [1, 2, tokens] })),
          fc.constantFrom(-1, 2 ** 40, Number.NaN).map((length) => ({ tokens: { length } })),
          fc
            .oneof(hostileValue, lyingView, fc.constant(Object.create(Uint32Array.prototype)))
            .filter(
              (x) =>
                x !== null &&
                x !== undefined &&
                !(typedArrayKind(x) === "Uint32Array" && !isDetachedView(x as Uint32Array)),
            )
            .map((extra) => ({ tokens: [1], extra })),
          fc
            .oneof(badId, fc.constant(w.free[0]!))
            .filter((p) => p !== null && p !== undefined && p !== -1)
            .map((parent) => ({ tokens: [1], parent })),
        )
        .map((content): [RegExp, () => unknown] => [
          /content/,
          () => w.a.registerBlockHash(w.live[0]!, 9n, content as never),
        ]),
    );
  assertCallsRefused(world, cases, RUNS * 2);
  fc.assert(
    fc.property(
      fc.oneof(badId, fc.constantFrom(0, 2 ** 26)).filter((n) => n !== N),
      (n) => {
        refusesNaming(() => new BlockAllocator(n as number), "numBlocks");
      },
    ),
    { numRuns: 40 },
  );
});

test("BlockTable refuses forged allocators, hostile options, counts and lists, changing nothing", () => {
  const forged = fc.oneof(
    hostileValue,
    fc.constantFrom(Object.create(BlockAllocator.prototype), { capacity: 16, idList: () => [] }),
  );
  fc.assert(
    fc.property(forged, (allocator) => {
      refusesNaming(
        () => new BlockTable(allocator as never, { blockSize: 4, maxBlocksPerSeq: 4 }),
        "allocator",
      );
    }),
    { numRuns: 60 },
  );
  fc.assert(
    fc.property(
      fc.constantFrom("blockSize", "maxBlocksPerSeq"),
      fc.oneof(badId, fc.constantFrom(0, 2 ** 25)).filter((v) => v !== N),
      (field, value) => {
        const a = new BlockAllocator(4);
        refusesNaming(
          () => new BlockTable(a, { blockSize: 4, maxBlocksPerSeq: 4, [field]: value }),
          field,
          () => a.metrics(),
        );
      },
    ),
    { numRuns: 60 },
  );
  const calls = (w: World): fc.Arbitrary<[RegExp, () => unknown]> =>
    fc.oneof(
      fc
        .oneof(notInt, fc.constantFrom(-1, 8 * BS + 1, 2 ** 53))
        .map((v): [RegExp, () => unknown] => [/targetTokens/, () => w.table.ensureCapacity(v as number)]),
      fc
        .oneof(notInt, fc.constantFrom(-1, 8 * BS + 1))
        .map((v): [RegExp, () => unknown] => [/targetTokens/, () => w.table.blocksNeeded(v as number)]),
      fc
        .oneof(notInt, fc.constantFrom(-1, 2 ** 31 + 1, 8 * BS))
        .filter((v) => v !== undefined)
        .map((v): [RegExp, () => unknown] => [/count/, () => w.table.append(v as number)]),
      fc
        .oneof(notInt, fc.constantFrom(-1, 11))
        .map((v): [RegExp, () => unknown] => [/length/, () => w.table.truncate(v as number)]),
    );
  assertCallsRefused(world, calls, RUNS);
  // adopt into an empty table: bad lists, a block listed more often than it is held, bad token counts.
  fc.assert(
    fc.property(
      fc.constant(null).chain(() => {
        const w = world();
        const empty = new BlockTable(w.a, { blockSize: BS, maxBlocksPerSeq: 8 });
        const snapshot = () => ({ world: w.snapshot(), empty: [empty.blockIds(), empty.length] });
        return fc
          .oneof(
            badList(w, true).map((list): [RegExp, () => unknown] => [
              /blocks/,
              () => empty.adopt(list as never, 4),
            ]),
            fc.constant<[RegExp, () => unknown]>([
              /blocks/,
              () => empty.adopt([w.live[0]!, w.live[0]!, w.live[0]!], 12),
            ]),
            fc
              .oneof(notInt, fc.constantFrom(-1, 0, 3 * BS + 1))
              .map((n): [RegExp, () => unknown] => [
                /tokenCount/,
                () => empty.adopt(w.live.slice(0, 3), n as number),
              ]),
            fc.constant<[RegExp, () => unknown]>([
              /maxBlocksPerSeq/,
              () => empty.adopt(Array(9).fill(w.live[0]!), 36),
            ]),
            fc.constant<[RegExp, () => unknown]>([/table/, () => w.table.adopt(w.live, 4)]),
          )
          .map((c) => ({ c, snapshot }));
      }),
      ({ c: [name, call], snapshot }) => {
        refusesNaming(call, name, snapshot);
      },
    ),
    { numRuns: RUNS },
  );
});

test("a write needing a private copy from an exhausted pool is refused and changes nothing", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), (count) => {
      const w = world();
      w.a.allocateN(w.a.freeCount); // held: their ref counts are in the snapshot
      // table's last block is shared with its fork: appending must copy it first
      refusesNaming(() => w.table.append(count), "exhausted", w.snapshot);
      refusesNaming(() => w.fork.ensureCapacity(w.fork.length + count), "exhausted", w.snapshot);
    }),
    { numRuns: 12 },
  );
});

test("find/acquire/commit refuse hostile keys, limits, blocks and parents, changing nothing", () => {
  /** The world's keys with one field made hostile; any position of a list may hold the bad value. */
  const badKeys = (w: World): fc.Arbitrary<[RegExp, unknown]> =>
    fc.oneof(
      fc
        .oneof(hostileScalar, wrongType)
        .filter((v) => typeof v !== "object" || v === null)
        .map((v): [RegExp, unknown] => [/keys/, v]),
      fc
        .oneof(badId, fc.constantFrom(0, 2 ** 21))
        .filter((v) => v !== N)
        .map((blockSize): [RegExp, unknown] => [/blockSize/, { ...w.keys, blockSize }]),
      fc
        .record({
          at: fc.nat(1),
          bad: fc
            .oneof(hostileScalar, wrongType)
            .filter((v) => typeof v !== "bigint" && typeof v !== "string"),
        })
        .map(({ at, bad }): [RegExp, unknown] => {
          const hashes: unknown[] = [...(w.keys.hashes as bigint[])];
          hashes[at] = bad;
          return [/keys.hashes/, { ...w.keys, hashes }];
        }),
      fc
        .constantFrom(null, 5, { length: 3 }, w.prompt.slice(0, 5))
        .map((tokens): [RegExp, unknown] => [/keys.tokens/, { ...w.keys, tokens }]),
      fc
        .constantFrom(5, "f", {}, Symbol("e"))
        .map((extra): [RegExp, unknown] => [/keys.extra/, { ...w.keys, extra }]),
      fc
        .record({
          at: fc.nat(1),
          bad: fc.oneof(
            anyWrongWords(),
            lyingView.filter((v) => typedArrayKind(v) !== "Uint32Array"),
          ),
        })
        .map(({ at, bad }): [RegExp, unknown] => [
          /keys.extra/,
          { ...w.keys, extra: (i: number) => (i === at ? bad : null) },
        ]),
    );
  fc.assert(
    fc.property(
      fc.constant(null).chain(() => {
        const w = world();
        return fc.record({
          w: fc.constant(w),
          keys: badKeys(w),
          fn: fc.constantFrom("find", "acquire", "commit"),
        });
      }),
      ({ w, keys: [name, keys], fn }) => {
        const call =
          fn === "find"
            ? () => findCachedPrefix(w.a, keys as PrefixKeys, 2)
            : fn === "acquire"
              ? () => acquireCachedPrefix(w.a, keys as PrefixKeys, 2)
              : () => commitFullBlocks(w.a, keys as PrefixKeys, w.live.slice(0, 2), 0, -1);
        refusesNaming(call, name, w.snapshot);
      },
    ),
    { numRuns: RUNS },
  );
  const badArgs = (w: World): fc.Arbitrary<[RegExp, () => unknown]> =>
    fc.oneof(
      fc
        .oneof(hostileValue, fc.constant(Object.create(BlockAllocator.prototype)))
        .chain((a) =>
          fc.constantFrom<[RegExp, () => unknown][]>(
            [/allocator/, () => findCachedPrefix(a as never, w.keys)],
            [/allocator/, () => acquireCachedPrefix(a as never, w.keys)],
            [/allocator/, () => commitFullBlocks(a as never, w.keys, w.live.slice(0, 2), 0, -1)],
          ),
        ),
      fc
        .oneof(notInt, fc.constantFrom(-1, 3))
        .filter((v) => v !== undefined)
        .chain((limit) =>
          fc.constantFrom<[RegExp, () => unknown][]>(
            [/limit/, () => findCachedPrefix(w.a, w.keys, limit as number)],
            [/limit/, () => acquireCachedPrefix(w.a, w.keys, limit as number)],
          ),
        ),
      badList(w, true).map((blocks): [RegExp, () => unknown] => [
        /blocks/,
        () => commitFullBlocks(w.a, w.keys, blocks as never, 0, -1),
      ]),
      fc
        .oneof(notInt, fc.constantFrom(-1, 2 ** 31 + 1))
        .map((first): [RegExp, () => unknown] => [
          /first/,
          () => commitFullBlocks(w.a, w.keys, [w.live[1]!], first as number, w.live[0]!),
        ]),
      fc
        .oneof(badId, fc.constant(w.free[0]!), fc.constant(-1))
        .map((parent): [RegExp, () => unknown] => [
          /parent/,
          () => commitFullBlocks(w.a, w.keys, [w.live[1]!], 1, parent as number),
        ]),
      fc.constant<[RegExp, () => unknown]>([
        /parent/,
        () => commitFullBlocks(w.a, w.keys, [w.live[0]!], 0, w.live[1]!),
      ]),
    );
  assertCallsRefused(world, badArgs, RUNS);
});

test("commitFullBlocks refuses a bad token of any block before registering any block", () => {
  fc.assert(
    fc.property(fc.nat(2 * BS - 1), fc.oneof(notInt, fc.constantFrom(-1, 2 ** 32, 1.5)), (at, bad) => {
      const w = world();
      // Two fresh blocks not yet registered, so a late bad token would find the first registered.
      const t = new BlockTable(w.a, { blockSize: BS, maxBlocksPerSeq: 8 });
      t.append(2 * BS);
      const tokens: unknown[] = Array.from({ length: 2 * BS }, (_, i) => 500 + i);
      tokens[at] = bad;
      const keys = { blockSize: BS, hashes: [11n, 12n], tokens: tokens as number[] };
      refusesNaming(() => commitFullBlocks(w.a, keys, t.blockIds(), 0, -1), "keys.tokens", w.snapshot);
    }),
    { numRuns: 60 },
  );
});

/** Values extra(i) must not return: anything but a live, honest Uint32Array or null/undefined. */
function anyWrongWords(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(
      5,
      "w",
      [1, 2],
      new Float32Array(2),
      new Uint8Array(4),
      Object.create(Uint32Array.prototype),
    ),
    fc.constant(null).map(() => {
      const d = new Uint32Array(2);
      d.buffer.transfer();
      return d;
    }),
  );
}
