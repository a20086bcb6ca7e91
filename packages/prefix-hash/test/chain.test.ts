import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import fc from "fast-check";
import {
  blockHash,
  encodeExtraKeys,
  hashChain,
  hashChainWords,
  PrefixHasher,
  ROOT_HASH,
} from "../src/index.ts";

for (const mode of ["fast", "secure"] as const) {
  test(`${mode}: chain basics from the seed`, () => {
    const chain = hashChain([1, 2, 3, 4, 5, 6, 7, 8], 4, { mode });
    expect(chain).toHaveLength(2);
    expect(chain[0]).not.toBe(chain[1]!);
    const a = hashChain([10, 20, 30, 40, 50, 60, 70, 80], 4, { mode });
    const b = hashChain([10, 20, 30, 40, 99, 99, 99, 99], 4, { mode });
    expect(a[0]).toBe(b[0]!);
    expect(a[1]).not.toBe(b[1]!);
    expect(hashChain([1, 2, 3, 4, 5, 6, 7], 4, { mode })).toHaveLength(1);
  });

  test(`${mode}: a block's hash depends on its parent and equals blockHash chained by hand`, () => {
    const tokens = [5, 6, 7, 8, 9, 10];
    const chain = hashChain(tokens, 3, { mode, lora: "a" });
    const h0 = blockHash(ROOT_HASH, [5, 6, 7], { lora: "a" }, mode);
    expect([...chain]).toEqual([h0, blockHash(h0, [8, 9, 10], { lora: "a" }, mode)]);
    expect(hashChain([1, 2, 8, 9, 10, 11], 3, { mode })[1]).not.toBe(hashChain(tokens, 3, { mode })[1]!);
  });

  test(`${mode}: extra keys change the hash; tags keep kinds apart`, () => {
    const t = [1, 2, 3, 4];
    const plain = hashChain(t, 4, { mode })[0];
    const lora = hashChain(t, 4, { mode, lora: "x" })[0];
    const salt = hashChain(t, 4, { mode, salt: "x" })[0];
    const custom = hashChain(t, 4, { mode, custom: ["x"] })[0];
    expect(new Set([plain, lora, salt, custom]).size).toBe(4);
    // Length prefixes: ["ab", "c"] is not ["a", "bc"].
    expect(hashChain(t, 4, { mode, custom: ["ab", "c"] })[0]).not.toBe(
      hashChain(t, 4, { mode, custom: ["a", "bc"] })[0]!,
    );
    // Salt only on the first block, yet it changes every later hash through the chain.
    const s = hashChain([...t, ...t], 4, { mode, salt: "tenant" });
    const n = hashChain([...t, ...t], 4, { mode });
    expect(s[1]).not.toBe(n[1]!);
    expect(s[1]).toBe(blockHash(s[0]!, t, {}, mode));
  });

  test(`${mode}: a chain continued from a parent equals the whole chain (salt only at the start)`, () => {
    const t = Array.from({ length: 12 }, (_, i) => i * 3);
    const whole = hashChain(t, 4, { mode, salt: "s", lora: 2 });
    const tail = hashChain(t.slice(4), 4, { mode, salt: "s", lora: 2, parent: whole[0]! });
    expect(tail).toEqual(whole.slice(1));
  });

  test(`${mode}: multimodal hashes key the blocks their placeholders overlap`, () => {
    const t = Array.from({ length: 12 }, () => 7);
    const a = hashChain(t, 4, { mode, multimodal: [{ hash: "img-a", offset: 5, length: 2 }] });
    const b = hashChain(t, 4, { mode, multimodal: [{ hash: "img-b", offset: 5, length: 2 }] });
    expect(a[0]).toBe(b[0]!);
    expect(a[1]).not.toBe(b[1]!);
  });

  test(`${mode}: the incremental hasher hashes each block once and matches hashChain`, () => {
    const tokens = Array.from({ length: 23 }, (_, i) => i * 7);
    const h = new PrefixHasher(5, { mode, salt: "s", multimodal: [{ hash: "m", offset: 3, length: 4 }] });
    const done: bigint[] = [];
    for (const t of tokens) done.push(...h.push(t));
    expect(done).toEqual([
      ...hashChain(tokens, 5, { mode, salt: "s", multimodal: [{ hash: "m", offset: 3, length: 4 }] }),
    ]);
    expect([...h.hashes]).toEqual(done);
    expect(h.lastHash).toBe(done.at(-1)!);
    expect(h.tokenCount).toBe(23);
    expect(() => h.push([1, -1])).toThrow(LlmemError);
    expect(h.tokenCount).toBe(23);
  });
}

test("token ids must be integers in [0, 2^32)", () => {
  for (const bad of [-1, 2 ** 32, 0.5, Number.NaN, "3"]) {
    expect(() => hashChain([1, bad as number], 2)).toThrow(LlmemError);
    expect(() => hashChain([1, bad as number], 2, { mode: "secure" })).toThrow(LlmemError);
    expect(() => blockHash(0n, [bad as number])).toThrow(LlmemError);
  }
  expect(hashChain([0, 2 ** 32 - 1], 2)).toHaveLength(1);
  expect(() => hashChain(new Int32Array([1, -5]), 2)).toThrow(LlmemError);
});

test("bad options are LlmemErrors", () => {
  expect(() => hashChain([1], 0)).toThrow(LlmemError);
  expect(() => hashChain([1], 1, { mode: "md5" as "fast" })).toThrow(LlmemError);
  expect(() => blockHash(-1n, [1])).toThrow(LlmemError);
  expect(() => blockHash(1n << 64n, [1])).toThrow(LlmemError);
  expect(blockHash(1n << 64n, [1], undefined, "secure")).toBeTypeOf("bigint");
  expect(() => encodeExtraKeys({ lora: -1 })).toThrow(LlmemError);
  expect(() => encodeExtraKeys({ salt: 5 as unknown as string })).toThrow(LlmemError);
  expect(() => hashChain([1, 2], 1, { multimodal: [{ hash: "x", offset: -1, length: 1 }] })).toThrow(
    LlmemError,
  );
  expect(() => hashChainWords([1, 2], 1, { mode: "secure" })).toThrow(LlmemError);
});

test("extra keys encoding: tag, byte length, little-endian words, zero padding", () => {
  expect(Array.from(encodeExtraKeys({ lora: "abcde" })!)).toEqual([1, 5, 0x64636261, 0x65]);
  expect(Array.from(encodeExtraKeys({ salt: new Uint8Array([1, 2]), custom: [""] })!)).toEqual([
    3, 2, 0x0201, 4, 0,
  ]);
  expect(encodeExtraKeys({})).toBeNull();
});

test("property: equal prefixes give equal leading hashes, and only those", () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat({ max: 50 }), { maxLength: 40 }),
      fc.array(fc.nat({ max: 50 }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 9 }),
      (a, b, bs) => {
        const ha = hashChain(a, bs);
        const hb = hashChain(b, bs);
        for (let i = 0; i < Math.min(ha.length, hb.length); i++) {
          const same = a.slice(0, (i + 1) * bs).every((t, j) => t === b[j]);
          expect(ha[i] === hb[i]).toBe(same);
        }
      },
    ),
  );
});

test("property: hashChain with any keys equals blockHash chained by hand (keys chosen per block here)", () => {
  const keysArb = fc.record(
    {
      lora: fc.oneof(fc.string({ maxLength: 6 }), fc.nat(999)),
      salt: fc.string({ maxLength: 9 }),
      custom: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
      multimodal: fc.array(
        fc.record({
          hash: fc.string({ maxLength: 4 }),
          offset: fc.nat(500),
          length: fc.integer({ min: 1, max: 60 }),
        }),
        { maxLength: 4 },
      ),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(
      // up to 700 tokens: long enough for the native chain (≥ 64 words) and SIMD groups of blocks
      fc.integer({ min: 0, max: 700 }),
      fc.integer(),
      fc.constantFrom(1, 3, 8, 16, 24),
      keysArb,
      fc.constantFrom("fast", "secure") as fc.Arbitrary<"fast" | "secure">,
      (length, seed, bs, keys, mode) => {
        const tokens = Array.from(
          { length: mode === "secure" ? Math.min(length, 200) : length },
          (_, i) => Math.imul(seed ^ i, 0x9e3779b1) >>> 0,
        );
        const got = [...hashChain(tokens, bs, { ...keys, mode })];
        const want: bigint[] = [];
        let parent = ROOT_HASH;
        for (let i = 0; (i + 1) * bs <= tokens.length; i++) {
          const hits = (keys.multimodal ?? []).filter(
            (m) => m.offset < (i + 1) * bs && m.offset + m.length > i * bs,
          );
          const blockKeys = {
            ...(keys.lora !== undefined ? { lora: keys.lora } : {}),
            ...(hits.length > 0 ? { multimodal: hits.map((m) => m.hash) } : {}),
            ...(i === 0 && keys.salt !== undefined ? { salt: keys.salt } : {}),
            ...(keys.custom !== undefined ? { custom: keys.custom } : {}),
          };
          parent = blockHash(parent, tokens.slice(i * bs, (i + 1) * bs), blockKeys, mode);
          want.push(parent);
        }
        expect(got).toEqual(want);
      },
    ),
    { numRuns: 300 },
  );
});
