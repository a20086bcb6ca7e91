import { describe, expect, test } from "bun:test";
import { BucketPool } from "@llmem/bucket-pool";
import { isLlmemError } from "@llmem/core";
import { codeOf } from "@llmem/core/testing";
import { setThreads } from "@llmem/quant-kernels";
import fc from "fast-check";
import { PagedKvCache, type PagedSequence } from "../src/index.ts";
import { ROW_FORMATS, type RowFormat } from "../src/row-formats.ts";
import { maxAbsDiff, referenceAttend, roundTrip } from "./reference.ts";

const KV = 2;
const HD = 32;
const ROW = KV * HD;

/** K/V of the token at the end of `prefix` in `layer`: depends on the whole prefix, as in a real model. */
function kvFor(prefix: readonly number[], layer: number): { k: Float32Array; v: Float32Array } {
  let h = 2166136261 ^ layer;
  for (const t of prefix) h = Math.imul(h ^ t, 16777619);
  let s = h >>> 0 || 1;
  const k = new Float32Array(ROW);
  const v = new Float32Array(ROW);
  for (let i = 0; i < 2 * ROW; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    (i < ROW ? k : v)[i % ROW] = (s >>> 0) / 2 ** 31 - 1;
  }
  return { k, v };
}

function prefill(cache: PagedKvCache, seq: PagedSequence, tokens: readonly number[], from: number): void {
  seq.beginStep(tokens.slice(from));
  for (let l = 0; l < cache.numLayers; l++) {
    const n = tokens.length - from;
    const k = new Float32Array(n * ROW);
    const v = new Float32Array(n * ROW);
    for (let p = from; p < tokens.length; p++) {
      const kv = kvFor(tokens.slice(0, p + 1), l);
      k.set(kv.k, (p - from) * ROW);
      v.set(kv.v, (p - from) * ROW);
    }
    seq.write(l, k, v);
  }
  seq.end();
}

/** What a cache must hold: each token's KV through `format`, and again through `storeFormat` before `stored`. */
function expected(
  tokens: readonly number[],
  layer: number,
  format: RowFormat,
  stored = 0,
  storeFormat?: RowFormat,
) {
  const keys = new Float32Array(tokens.length * ROW);
  const values = new Float32Array(keys.length);
  for (let p = 0; p < tokens.length; p++) {
    let { k, v } = kvFor(tokens.slice(0, p + 1), layer);
    k = roundTrip(format, k, true);
    v = roundTrip(format, v, true);
    if (p < stored && storeFormat) {
      k = roundTrip(storeFormat, k, true);
      v = roundTrip(storeFormat, v, true);
    }
    keys.set(k, p * ROW);
    values.set(v, p * ROW);
  }
  return { keys, values };
}

describe("PagedKvCache", () => {
  test("prefix sharing: a second prompt with the same prefix adopts its blocks, even after release", () => {
    const cache = new PagedKvCache({
      numLayers: 2,
      numKvHeads: KV,
      headDim: HD,
      blockSize: 4,
      numBlocks: 32,
    });
    const prompt = Array.from({ length: 14 }, (_, i) => 100 + i);
    const a = cache.admit(prompt)!;
    expect(a.cachedTokens).toBe(0);
    prefill(cache, a, prompt, 0);
    const b = cache.admit([...prompt.slice(0, 10), 7, 7, 7])!;
    expect(b.cachedTokens).toBe(8); // two full blocks of the shared 10-token prefix
    expect(b.blockIds().slice(0, 2)).toEqual(a.blockIds().slice(0, 2));
    cache.release(a);
    cache.release(b);
    const c = cache.admit(prompt)!;
    expect(c.cachedTokens).toBe(12); // three full blocks; soft-free blocks resurrected
    prefill(cache, c, prompt, 12);
    for (let l = 0; l < 2; l++) {
      const got = cache.read(c, l);
      const want = expected(prompt, l, "f32");
      expect(maxAbsDiff(got.keys, want.keys)).toBe(0);
      expect(maxAbsDiff(got.values, want.values)).toBe(0);
    }
    expect(cache.stats().prefillTokensSaved).toBe(20);
    // A prompt that is entirely cached still leaves its last token to compute.
    const d = cache.admit(prompt.slice(0, 12))!;
    expect(d.cachedTokens).toBe(8);
    cache.dispose();
  });

  test("fork copies a shared partial block on first write, leaving the parent intact", () => {
    const cache = new PagedKvCache({ numLayers: 1, numKvHeads: KV, headDim: HD, blockSize: 4, numBlocks: 8 });
    const prompt = [1, 2, 3, 4, 5, 6];
    const a = cache.admit(prompt)!;
    prefill(cache, a, prompt, 0);
    const b = cache.fork(a);
    expect(b.blockIds()).toEqual(a.blockIds());
    expect(cache.stats().blocksInUse).toBe(2);
    const { k, v } = kvFor([...prompt, 9], 0);
    b.beginStep(9).write(0, k, v);
    b.end();
    expect(b.blockIds()[0]).toBe(a.blockIds()[0]!); // the full block stays shared
    expect(b.blockIds()[1]).not.toBe(a.blockIds()[1]!);
    expect(cache.stats().blocksInUse).toBe(3);
    expect(maxAbsDiff(cache.read(a, 0).keys, expected(prompt, 0, "f32").keys)).toBe(0);
    expect(maxAbsDiff(cache.read(b, 0).keys, expected([...prompt, 9], 0, "f32").keys)).toBe(0);
    cache.dispose();
  });

  test("attend matches the f32 reference over the sequence's tokens", () => {
    for (const format of ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"] as const) {
      const cache = new PagedKvCache({
        numLayers: 2,
        numKvHeads: KV,
        headDim: HD,
        blockSize: 3,
        numBlocks: 20,
        format,
        numHeads: 4,
      });
      const prompt = Array.from({ length: 17 }, (_, i) => i * 3);
      const s = cache.admit(prompt)!;
      prefill(cache, s, prompt, 0);
      const q = kvFor([42], 9).k.subarray(0, (4 * HD) / 2);
      const query = new Float32Array(4 * HD);
      query.set(q);
      query.set(q, 2 * HD);
      const out = s.attend(1, query, new Float32Array(4 * HD));
      const want = expected(prompt, 1, format);
      expect(maxAbsDiff(out, referenceAttend(want.keys, want.values, 17, query, 4, KV, HD))).toBeLessThan(
        1e-5,
      );
      cache.dispose();
    }
  });

  test("out of blocks: POOL_EXHAUSTED with the sequence unchanged; bad input names the argument", () => {
    const cache = new PagedKvCache({
      numLayers: 1,
      numKvHeads: KV,
      headDim: HD,
      blockSize: 4,
      numBlocks: 2,
      maxBlocksPerSeq: 8,
      format: "q8_0",
    });
    const s = cache.admit([1, 2, 3, 4, 5, 6])!;
    prefill(cache, s, [1, 2, 3, 4, 5, 6], 0);
    const before = cache.read(s, 0);
    const blocks = s.blockIds();
    const big = new Float32Array(3 * ROW);
    // 6 + 3 tokens need a third block; the pool has 2
    expect(codeOf(() => s.beginStep([7, 8, 9]))).toBe("POOL_EXHAUSTED");
    expect(s.length).toBe(6);
    expect(s.tokens()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.blockIds()).toEqual(blocks);
    expect(maxAbsDiff(cache.read(s, 0).keys, before.keys)).toBe(0);
    // a step's arguments: each failure names the argument and changes nothing
    s.beginStep(7);
    const nan = new Float32Array(ROW);
    nan[3] = Number.POSITIVE_INFINITY;
    expect(codeOf(() => s.write(0, nan, new Float32Array(ROW)))).toBe("INVALID_ARGUMENT");
    expect(() => s.write(0, nan, new Float32Array(ROW))).toThrow(/k\[3\]/);
    expect(codeOf(() => s.write(1, big, big))).toBe("OUT_OF_RANGE");
    expect(() => s.write(0, big, big)).toThrow(/k must hold 1 token/);
    expect(codeOf(() => s.attend(0, new Float32Array(2 * HD), new Float32Array(2 * HD)))).toBe(
      "INVALID_ARGUMENT",
    ); // before write
    expect(codeOf(() => s.end())).toBe("INVALID_ARGUMENT"); // layer 0 not written
    expect(codeOf(() => s.beginStep(8))).toBe("INVALID_ARGUMENT"); // a step is open
    s.write(0, new Float32Array(ROW), new Float32Array(ROW));
    expect(() => s.write(0, new Float32Array(ROW), new Float32Array(ROW))).toThrow(/written already/);
    expect(codeOf(() => s.attend(0, new Float32Array(3 * HD), new Float32Array(3 * HD)))).toBe(
      "INVALID_ARGUMENT",
    );
    s.end();
    expect(s.length).toBe(7);
    expect(codeOf(() => s.end())).toBe("INVALID_ARGUMENT"); // no step open
    expect(codeOf(() => cache.admit([1, -2]))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => cache.admit([1, 2], { maxTokens: 1 }))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => cache.admit([1], { maxTokens: 9 }))).toBe("CAPACITY_EXCEEDED"); // 3 blocks > numBlocks 2
    expect(s.length).toBe(7);
    const capped = new PagedKvCache({
      numLayers: 1,
      numKvHeads: KV,
      headDim: HD,
      blockSize: 4,
      numBlocks: 8,
      maxBlocksPerSeq: 1,
    });
    const c = capped.admit([1])!;
    c.beginStep([1, 2, 3, 4]).write(0, new Float32Array(4 * ROW), new Float32Array(4 * ROW));
    c.end();
    expect(codeOf(() => c.beginStep(5))).toBe("CAPACITY_EXCEEDED");
    expect(c.length).toBe(4);
    capped.dispose();
    const tiersBad = [
      { recentBlocks: -1, storeFormat: "q8_0", numStoreBlocks: 4 },
      { recentBlocks: 1, storeFormat: "q3", numStoreBlocks: 4 },
      { recentBlocks: 1, storeFormat: "q8_0", numStoreBlocks: 0 },
    ];
    for (const tiers of tiersBad) {
      const fn = () =>
        new PagedKvCache({ numLayers: 1, numKvHeads: KV, headDim: HD, numBlocks: 4, tiers: tiers as never });
      expect(codeOf(fn)).toMatch(/^[A-Z_]+$/); // an LlmemError, whatever its code
      expect(() => fn()).toThrow(/tiers\./);
    }
    cache.release(s);
    expect(codeOf(() => s.beginStep(8))).toBe("UNKNOWN_SEQUENCE");
    expect(codeOf(() => cache.release(s))).toBe("UNKNOWN_SEQUENCE");
    const other = new PagedKvCache({ numLayers: 1, numKvHeads: KV, headDim: HD, numBlocks: 2 });
    const foreign = other.admit([1])!;
    expect(codeOf(() => cache.read(foreign, 0))).toBe("UNKNOWN_SEQUENCE");
    expect(
      codeOf(
        () => new PagedKvCache({ numLayers: 1, numKvHeads: 2, headDim: 40, numBlocks: 2, format: "q4_0" }),
      ),
    ).toBe("INVALID_ARGUMENT");
    cache.dispose();
    other.dispose();
  });
});

test("pool memory comes from a caller's BucketPool and goes back to it on dispose", () => {
  const pool = new BucketPool();
  const cache = new PagedKvCache({
    numLayers: 3,
    numKvHeads: KV,
    headDim: HD,
    blockSize: 4,
    numBlocks: 8,
    pool,
  });
  expect(pool.stats().inUseCount).toBe(6); // K and V per layer
  const s = cache.admit([1, 2, 3])!;
  prefill(cache, s, [1, 2, 3], 0);
  cache.dispose();
  expect(pool.stats().inUseCount).toBe(0);
  expect(() => cache.admit([1])).toThrow(/disposed/)!;
  pool.dispose();
});

test("two-tier policy: old blocks move to the quantized store; attend spans both tiers; a full store keeps blocks recent", () => {
  const cache = new PagedKvCache({
    numLayers: 2,
    numKvHeads: KV,
    headDim: HD,
    blockSize: 4,
    numBlocks: 16,
    tiers: { recentBlocks: 2, storeFormat: "q8_0", numStoreBlocks: 3 },
    numHeads: 4,
  });
  const prompt = Array.from({ length: 23 }, (_, i) => 500 + i);
  const s = cache.admit(prompt)!;
  prefill(cache, s, prompt, 0);
  // 5 full blocks + 3 tokens: 3 old blocks to the store, 2 full + the partial one recent.
  expect(s.storedTokens).toBe(12);
  expect(s.storeBlockIds().length).toBe(3);
  expect(s.blockIds().length).toBe(3);
  const want = expected(prompt, 1, "f32", 12, "q8_0");
  expect(maxAbsDiff(cache.read(s, 1).keys, want.keys)).toBe(0);
  const query = new Float32Array(4 * HD).map((_, i) => Math.sin(i));
  const out = s.attend(1, query, new Float32Array(4 * HD));
  expect(maxAbsDiff(out, referenceAttend(want.keys, want.values, 23, query, 4, KV, HD))).toBeLessThan(1e-5);
  // The store holds 3 blocks: further old blocks stay in the recent tier.
  const more = Array.from({ length: 8 }, (_, i) => 900 + i);
  prefill(cache, s, [...prompt, ...more], 23);
  expect(s.storedTokens).toBe(12);
  expect(s.blockIds().length).toBe(5);
  const st = cache.stats();
  expect(st.storeBlocksInUse).toBe(3);
  expect(st.bytesInUse).toBe(5 * st.bytesPerBlock + 3 * st.storeBytesPerBlock);
  expect(st.storeBytesPerBlock / st.bytesPerBlock).toBeCloseTo(34 / 128, 6);
  cache.dispose();
});

test("channel-grouped store keys: each key channel is quantized over 32-token groups; attend spans both tiers", () => {
  const cache = new PagedKvCache({
    numLayers: 2,
    numKvHeads: KV,
    numHeads: 4,
    headDim: HD,
    blockSize: 32,
    numBlocks: 8,
    tiers: { recentBlocks: 1, storeFormat: "q4_1", numStoreBlocks: 4, keyGrouping: "channel" },
  });
  const tokens = Array.from({ length: 100 }, (_, i) => 7 + i);
  const s = cache.admit(tokens)!;
  prefill(cache, s, tokens.slice(0, 70), 0);
  for (let n = 71; n <= 100; n++) prefill(cache, s, tokens.slice(0, n), n - 1);
  expect(s.storedTokens).toBe(64); // 3 full blocks: the 2 oldest moved
  for (let l = 0; l < 2; l++) {
    const want = expected(tokens, l, "f32");
    const got = cache.read(s, l);
    // keys of the store: channel c of tokens [32g, 32g + 32) is one q4_1 row
    const col = new Float32Array(32);
    for (let g = 0; g < 2; g++) {
      for (let c = 0; c < ROW; c++) {
        for (let t = 0; t < 32; t++) col[t] = want.keys[(32 * g + t) * ROW + c]!;
        const rt = roundTrip("q4_1", col, true);
        for (let t = 0; t < 32; t++) want.keys[(32 * g + t) * ROW + c] = rt[t]!;
      }
    }
    for (let p = 0; p < 64; p++)
      want.values.set(roundTrip("q4_1", want.values.subarray(p * ROW, (p + 1) * ROW), true), p * ROW);
    expect(maxAbsDiff(got.keys, want.keys)).toBe(0);
    expect(maxAbsDiff(got.values, want.values)).toBe(0);
    const query = new Float32Array(4 * HD).map((_, i) => Math.cos(i + l));
    const out = s.attend(l, query, new Float32Array(4 * HD));
    expect(maxAbsDiff(out, referenceAttend(want.keys, want.values, 100, query, 4, KV, HD))).toBeLessThan(
      1e-5,
    );
  }
  cache.dispose();
  for (const tiers of [
    { recentBlocks: 1, storeFormat: "f16", numStoreBlocks: 4, keyGrouping: "channel" },
    { recentBlocks: 1, storeFormat: "q8_0", numStoreBlocks: 4, keyGrouping: "channel", blockSize: 16 },
  ] as const) {
    const fn = () =>
      new PagedKvCache({
        numLayers: 1,
        numKvHeads: KV,
        headDim: HD,
        numBlocks: 4,
        blockSize: 32,
        ...tiers,
        tiers,
      });
    expect(codeOf(fn)).toBe("INVALID_ARGUMENT");
    expect(fn).toThrow(/tiers\.keyGrouping "channel".*blockSize a multiple of 32/);
  }
});

describe("PagedKvCache against a reference model (fast-check)", () => {
  const BASE = Array.from({ length: 40 }, (_, i) => 1000 + i);
  const cmd = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("add" as const),
        shared: fc.integer({ min: 0, max: 24 }),
        extra: fc.integer({ min: 0, max: 9 }),
        seed: fc.nat(50),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant("decode" as const), which: fc.nat(), token: fc.nat(60) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("fork" as const), which: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), which: fc.nat() }) },
  );

  test("add (prefix match) / append / fork / release: contents, sharing and block accounting", () => {
    let cachedSeen = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.constantFrom<RowFormat>("f32", "q8_0"),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 4, max: 30 }),
        fc.option(fc.integer({ min: 0, max: 2 })),
        fc.array(cmd, { maxLength: 25 }),
        (format, blockSize, numBlocks, recentBlocks, cmds) => {
          // With tiers, the store is large enough that the policy alone decides what moves.
          const storeFormat: RowFormat = format === "f32" ? "q8_0" : "q4_1";
          const cache = new PagedKvCache({
            numLayers: 2,
            numKvHeads: KV,
            headDim: HD,
            blockSize,
            numBlocks,
            maxBlocksPerSeq: 64,
            format,
            ...(recentBlocks === null ? {} : { tiers: { recentBlocks, storeFormat, numStoreBlocks: 400 } }),
          });
          const storedFor = (n: number) =>
            recentBlocks === null ? 0 : blockSize * Math.max(0, Math.floor(n / blockSize) - recentBlocks);
          const live: { seq: PagedSequence; tokens: number[] }[] = [];
          for (const c of cmds) {
            if (c.kind === "add") {
              const tokens = [
                ...BASE.slice(0, c.shared),
                ...Array.from({ length: c.extra + 1 }, (_, i) => (c.seed * 7 + i) % 50),
              ];
              const before = cache.stats();
              let seq: PagedSequence | null;
              try {
                seq = cache.admit(tokens);
              } catch (e) {
                if (!isLlmemError(e, "CAPACITY_EXCEEDED")) throw e;
                seq = null;
              }
              if (seq === null) {
                // refused, all or nothing: the pool is as it was
                expect(cache.stats()).toEqual(before);
                refused++;
                continue;
              }
              expect(seq.cachedTokens % blockSize).toBe(0);
              expect(seq.cachedTokens).toBeLessThan(tokens.length);
              cachedSeen += seq.cachedTokens;
              // Admission reserved the prompt's blocks: its prefill cannot run out of them.
              // Matched blocks must hold exactly this prompt's KV (checked below with everything else).
              prefill(cache, seq, tokens, seq.cachedTokens);
              live.push({ seq, tokens });
            } else if (live.length > 0) {
              const i = c.which % live.length;
              const entry = live[i]!;
              if (c.kind === "decode") {
                const next = [...entry.tokens, c.token];
                const blocksBefore = entry.seq.blockIds();
                try {
                  entry.seq.beginStep(c.token);
                } catch (e) {
                  if (!isLlmemError(e, "POOL_EXHAUSTED")) throw e;
                  // beginStep places every block of the step, so a full pool fails there and changes nothing
                  expect(entry.seq.blockIds()).toEqual(blocksBefore);
                  expect(entry.seq.length).toBe(entry.tokens.length);
                  continue;
                }
                for (let l = 0; l < 2; l++) {
                  const { k, v } = kvFor(next, l);
                  entry.seq.write(l, k, v);
                }
                entry.seq.end();
                entry.tokens = next;
              } else if (c.kind === "fork") {
                live.push({ seq: cache.fork(entry.seq), tokens: entry.tokens.slice() });
              } else {
                cache.release(entry.seq);
                live.splice(i, 1);
              }
            }
            const distinct = new Set<number>();
            for (const { seq, tokens } of live) {
              for (const b of seq.blockIds()) distinct.add(b);
              for (let l = 0; l < 2; l++) {
                const got = cache.read(seq, l);
                expect(seq.storedTokens).toBe(storedFor(tokens.length));
                const want = expected(tokens, l, format, seq.storedTokens, storeFormat);
                expect(maxAbsDiff(got.keys, want.keys)).toBe(0);
                expect(maxAbsDiff(got.values, want.values)).toBe(0);
              }
            }
            expect(cache.stats().blocksInUse).toBe(distinct.size);
          }
          cache.dispose();
        },
      ),
      { numRuns: 120 },
    );
    expect(cachedSeen).toBeGreaterThan(0); // the runs did exercise prefix hits
    expect(refused).toBeGreaterThan(0); // and refused admissions
  });
});

describe("a multi-token step's causal attend (attend with positions)", () => {
  for (const format of ["f32", "q8_0"] as const) {
    test(`${format}: token i of a chunk sees what a one-token step at its position sees`, () => {
      const tokens = [5, 9, 2, 7, 7, 1, 3, 8, 4, 6, 2, 9, 1];
      const make = () =>
        new PagedKvCache({
          numLayers: 2,
          numKvHeads: KV,
          numHeads: 2 * KV,
          headDim: HD,
          blockSize: 4,
          numBlocks: 16,
          maxBlocksPerSeq: 8,
          format,
        });
      const q = new Float32Array(2 * ROW).map((_, i) => Math.sin(i));
      // Token by token: attend after each position's step.
      const one = make();
      const a = one.admit(tokens)!;
      const want: Float32Array[] = [];
      for (let p = 0; p < tokens.length; p++) {
        a.beginStep(tokens[p]!);
        for (let l = 0; l < 2; l++) {
          const kv = kvFor(tokens.slice(0, p + 1), l);
          a.write(l, kv.k, kv.v);
          if (l === 1) want.push(a.attend(l, q, new Float32Array(2 * ROW)));
        }
        a.end();
      }
      // The first 3 positions as one step, the rest as a second (crossing blocks of 4).
      const chunked = make();
      const b = chunked.admit(tokens)!;
      prefill(chunked, b, tokens.slice(0, 3), 0);
      const from = 3;
      b.beginStep(tokens.slice(from));
      const n = tokens.length - from;
      for (let l = 0; l < 2; l++) {
        const k = new Float32Array(n * ROW);
        const v = new Float32Array(n * ROW);
        for (let p = from; p < tokens.length; p++) {
          const kv = kvFor(tokens.slice(0, p + 1), l);
          k.set(kv.k, (p - from) * ROW);
          v.set(kv.v, (p - from) * ROW);
        }
        b.write(l, k, v);
      }
      for (let p = from; p < tokens.length; p++) {
        expect(b.attend(1, q, new Float32Array(2 * ROW), p + 1)).toEqual(want[p]!);
      }
      // positions past what the layer holds, or below 1, are refused
      expect(codeOf(() => b.attend(1, q, new Float32Array(2 * ROW), tokens.length + 1))).toBe("OUT_OF_RANGE");
      expect(codeOf(() => b.attend(1, q, new Float32Array(2 * ROW), 0))).toBe("OUT_OF_RANGE");
      expect(codeOf(() => b.attend(1, q, new Float32Array(2 * ROW), 2.5))).toBe("INVALID_ARGUMENT");
      b.end();
    });
  }
});

describe("a whole chunk in one attend call (several queries)", () => {
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const NH = 2 * KV;
  const Q = NH * HD;
  const cases: { name: string; format: RowFormat; tiers?: object }[] = [
    ...ROW_FORMATS.map((format) => ({ name: format, format })),
    {
      name: "f32 recent over a q8_0 store",
      format: "f32",
      tiers: { recentBlocks: 1, storeFormat: "q8_0", numStoreBlocks: 8 },
    },
    {
      name: "f32 recent over channel-grouped q4_1 keys",
      format: "f32",
      tiers: { recentBlocks: 1, storeFormat: "q4_1", numStoreBlocks: 8, keyGrouping: "channel" },
    },
  ];
  for (const { name, format, tiers } of cases) {
    for (const threads of [1, 2]) {
      test(`${name}, ${threads} thread(s): each query's bits are its one-query attend's`, () => {
        setThreads(threads);
        try {
          const blockSize = tiers ? 32 : 4;
          const cache = new PagedKvCache({
            numLayers: 2,
            numKvHeads: KV,
            numHeads: NH,
            headDim: HD,
            blockSize,
            numBlocks: 16,
            maxBlocksPerSeq: 12,
            format,
            ...(tiers ? { tiers: tiers as never } : {}),
          });
          const tokens = Array.from({ length: tiers ? 80 : 21 }, (_, i) => (i * 7 + 3) % 11);
          const seq = cache.admit(tokens)!;
          // a prefix one token at a time (with tiers: old blocks move to the store), then a chunk
          const from = tiers ? 70 : 6;
          for (let p = 0; p < from; p++) prefill(cache, seq, tokens.slice(0, p + 1), p);
          if (tiers) expect(seq.storedTokens).toBeGreaterThan(0);
          const n = tokens.length - from;
          seq.beginStep(tokens.slice(from));
          for (let l = 0; l < 2; l++) {
            const k = new Float32Array(n * ROW);
            const v = new Float32Array(n * ROW);
            for (let p = from; p < tokens.length; p++) {
              const kv = kvFor(tokens.slice(0, p + 1), l);
              k.set(kv.k, (p - from) * ROW);
              v.set(kv.v, (p - from) * ROW);
            }
            seq.write(l, k, v);
          }
          const q = new Float32Array(n * Q).map((_, i) => Math.sin(0.37 * i));
          const want = new Float32Array(n * Q);
          for (let i = 0; i < n; i++) {
            seq.attend(1, q.subarray(i * Q, (i + 1) * Q), want.subarray(i * Q, (i + 1) * Q), from + i + 1);
          }
          const got = new Float32Array(n * Q).fill(Number.NaN);
          seq.attend(1, q, got, from + 1);
          expect(bits(got)).toEqual(bits(want));
          // default positions: the last query sees every position held
          const dflt = new Float32Array(n * Q);
          seq.attend(1, q, dflt);
          expect(bits(dflt)).toEqual(bits(want));
          // a later window of the chunk (fewer queries, later first position)
          const tail = new Float32Array(3 * Q);
          seq.attend(1, q.subarray((n - 3) * Q), tail, tokens.length - 2);
          expect(bits(tail)).toEqual(bits(want.subarray((n - 3) * Q)));
          seq.end();
          cache.dispose();
        } finally {
          setThreads(1);
        }
      });
    }
  }

  test("refused with nothing written: ragged rows, too many queries, positions past the last, out of another size", () => {
    const cache = new PagedKvCache({
      numLayers: 1,
      numKvHeads: KV,
      numHeads: NH,
      headDim: HD,
      blockSize: 4,
      numBlocks: 8,
    });
    const tokens = [1, 2, 3, 4, 5];
    const seq = cache.admit(tokens)!;
    prefill(cache, seq, tokens, 0);
    const out = new Float32Array(3 * Q).fill(7);
    const before = bits(out);
    expect(codeOf(() => seq.attend(0, new Float32Array(3 * Q - 1), out, 1))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => seq.attend(0, new Float32Array(6 * Q), new Float32Array(6 * Q)))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(codeOf(() => seq.attend(0, new Float32Array(3 * Q), out, 4))).toBe("OUT_OF_RANGE"); // 4 + 2 > 5
    expect(codeOf(() => seq.attend(0, new Float32Array(3 * Q), new Float32Array(2 * Q), 1))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(bits(out)).toEqual(before);
    // the widest legal call: five queries, the first over one position
    const all = new Float32Array(5 * Q);
    seq.attend(0, new Float32Array(5 * Q).fill(0.5), all, 1);
    expect(all.some((x) => x !== 0)).toBe(true);
    cache.dispose();
  });
});
