// The open-addressing index against a Map, with a table small enough that probe runs wrap and
// backward-shift deletion is exercised, and keys of every kind (exact u64, wide bigint, string).
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { BlockHash } from "../src/allocator.ts";
import { HashIndex } from "../src/hash-index.ts";

const keyArb: fc.Arbitrary<BlockHash> = fc.oneof(
  fc.bigInt({ min: 0n, max: 40n }),
  fc.bigInt({ min: (1n << 64n) - 3n, max: (1n << 64n) + 3n }), // exact and wide around 2^64
  fc.constantFrom(-1n, 1n << 200n, (1n << 200n) + 1n),
  fc.constantFrom("", "a", "b", "0", "1"),
);

test("HashIndex behaves like a Map<key, block> with one key per block", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), keyArb, fc.nat({ max: 7 })), { maxLength: 80 }), (ops) => {
      const keyOf: (BlockHash | undefined)[] = new Array(8);
      const index = new HashIndex(8, (b) => keyOf[b]);
      const model = new Map<BlockHash, number>();
      for (const [add, key, block] of ops) {
        if (add) {
          // the allocator's discipline: a block holds one key, a key one block
          const old = keyOf[block];
          if (old !== undefined) {
            index.removeIf(old, block);
            model.delete(old);
          }
          const holder = model.get(key);
          if (holder !== undefined) {
            index.removeIf(key, holder);
            model.delete(key);
            keyOf[holder] = undefined;
          }
          index.add(key, block);
          model.set(key, block);
          keyOf[block] = key;
        } else {
          const holder = model.get(key);
          index.removeIf(key, block);
          if (holder === block) {
            model.delete(key);
            keyOf[block] = undefined;
          }
        }
        expect(index.size).toBe(model.size);
        for (const [k, b] of model) expect(index.get(k)).toBe(b);
        expect(index.get("absent")).toBe(-1);
      }
    }),
    { numRuns: 300 },
  );
});

test("HashIndex stays exact through a long churn at full load", () => {
  const n = 5000;
  const keyOf: (BlockHash | undefined)[] = new Array(n);
  const index = new HashIndex(n, (b) => keyOf[b]);
  const model = new Map<BlockHash, number>();
  let s = 12345;
  const rand = (m: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % m;
  };
  for (let step = 0; step < 60_000; step++) {
    const block = rand(n);
    const old = keyOf[block];
    if (old !== undefined) {
      index.removeIf(old, block);
      model.delete(old);
      keyOf[block] = undefined;
    }
    if (rand(4) !== 0) {
      // keys of all kinds, many sharing a home slot pattern (small values, strings)
      const kind = rand(3);
      const key: BlockHash =
        kind === 0
          ? BigInt(rand(20_000))
          : kind === 1
            ? `k${rand(20_000)}`
            : (1n << 70n) + BigInt(rand(20_000));
      const holder = model.get(key);
      if (holder !== undefined) {
        index.removeIf(key, holder);
        keyOf[holder] = undefined;
      }
      index.add(key, block);
      model.set(key, block);
      keyOf[block] = key;
    }
  }
  expect(index.size).toBe(model.size);
  for (const [k, b] of model) expect(index.get(k)).toBe(b);
  for (let i = 0; i < 1000; i++) {
    const k = BigInt(20_000 + i);
    expect(index.get(k)).toBe(-1);
  }
});
