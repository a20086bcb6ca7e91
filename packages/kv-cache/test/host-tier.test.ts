// The host-RAM tier: blocks the pool recycles spill into it, a prompt whose next blocks are
// there gets them copied back (the same KV, reusedFrom.host), its byte cap is never exceeded,
// and under random operations it holds exactly what a reference LRU of the same cap holds.
import { expect, test } from "bun:test";
import type { PrefixKeys } from "@llmem/block-allocator";
import { hashChain } from "@llmem/prefix-hash";
import fc from "fast-check";
import { type HostBlock, HostTier, PagedKvCache, type PagedSequence } from "../src/index.ts";

const L = 2;
const KV = 1;
const HD = 8;
const ROW = KV * HD;

function rows(t: number, pos: number, l: number, kind: number): Float32Array {
  return Float32Array.from({ length: ROW }, (_, i) =>
    Math.cos(t * 0.21 + pos * 0.9 + l + kind * 0.5 + i * 0.3),
  );
}

function prefill(seq: PagedSequence, prompt: readonly number[]): void {
  for (let p = seq.cachedTokens; p < prompt.length; p++) {
    seq.beginStep(prompt[p]!);
    for (let l = 0; l < L; l++) seq.write(l, rows(prompt[p]!, p, l, 0), rows(prompt[p]!, p, l, 1));
    seq.end();
  }
}

test("evicted prefix blocks spill to the host tier and come back with the same KV", () => {
  const cache = new PagedKvCache({ numLayers: L, numKvHeads: KV, headDim: HD, blockSize: 4, numBlocks: 4 });
  const host = new HostTier(1 << 20);
  cache.attachHostTier(host);
  const a = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const s = cache.admit(a)!;
  prefill(s, a);
  const keys = [0, 1].map((l) => cache.read(s, l).keys.slice(0, 8 * ROW));
  s.release(); // 2 blocks soft-free in the pool
  const b = [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64];
  const t = cache.admit(b)!; // needs all 4 blocks: evicts a's 2 cached blocks → host
  prefill(t, b);
  t.release();
  expect(cache.stats().prefixEvictions).toBe(2);
  expect(host.stats()).toMatchObject({ blocks: 2, puts: 2, hits: 0 });
  const again = cache.admit(a)!;
  expect(again.cachedTokens).toBe(8);
  expect(again.reusedFrom).toEqual({ device: 0, host: 8, file: 0, redis: 0 });
  for (let l = 0; l < L; l++) expect(cache.read(again, l).keys).toEqual(keys[l]!);
  const st = cache.stats().hostTier!;
  expect(st.hits).toBe(2);
  // a's 2 blocks moved up into the pool (a clean block and b's tail block, which spilled in turn)
  expect(st).toMatchObject({ blocks: 1, puts: 3 });
  expect(cache.stats().prefixEvictions).toBe(3);
  // the promoted blocks are registered in the pool again: a third admission finds them there
  prefill(again, a);
  again.release();
  expect(cache.admit(a)!.reusedFrom.device).toBe(8);
});

test("a host hit is verified: other tokens under the same hash, or another parent, are a miss", () => {
  const tier = new HostTier(1 << 16);
  const block = (hash: bigint, parentHash: bigint | null, t0: number): HostBlock => ({
    hash,
    parentHash,
    tokens: Uint32Array.from([t0, t0 + 1]),
    extra: null,
    payload: new Uint8Array(16).fill(t0),
    origin: "device",
  });
  tier.put(block(11n, null, 1));
  tier.put(block(12n, 11n, 3));
  const keys = (tokens: number[], hashes: bigint[]): PrefixKeys => ({ blockSize: 2, hashes, tokens });
  expect(tier.count(keys([1, 2, 3, 4], [11n, 12n]), 0, 2)).toBe(2);
  expect(tier.count(keys([1, 2, 3, 5], [11n, 12n]), 0, 2)).toBe(1); // second block's tokens differ
  expect(tier.count(keys([1, 2, 3, 4], [99n, 12n]), 1, 2)).toBe(0); // parent hash differs
  expect(tier.take(keys([1, 9, 3, 4], [11n, 12n]), 0, 2)).toEqual([]);
  expect(tier.stats()).toMatchObject({ blocks: 2, hits: 0, misses: 1 });
});

test("model: under random puts and takes the tier holds what a reference LRU holds, never over the cap", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 400 }),
      fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant("put" as const),
            key: fc.integer({ min: 0, max: 15 }),
            size: fc.integer({ min: 0, max: 120 }),
          }),
          fc.record({ op: fc.constant("take" as const), key: fc.integer({ min: 0, max: 15 }) }),
        ),
        { maxLength: 80 },
      ),
      (cap, ops) => {
        const tier = new HostTier(cap);
        // reference: an array of [key, bytes], least recently used first
        const ref: [bigint, number][] = [];
        const refBytes = () => ref.reduce((s, [, b]) => s + b, 0);
        for (const o of ops) {
          const hash = BigInt(o.key);
          if (o.op === "put") {
            const payload = new Uint8Array(o.size).fill(o.key);
            const bytes = o.size + 4; // one token id
            const accepted = tier.put({
              hash,
              parentHash: null,
              tokens: Uint32Array.of(o.key),
              extra: null,
              payload,
              origin: "device",
            });
            const at = ref.findIndex(([k]) => k === hash);
            if (at >= 0) {
              ref.push(ref.splice(at, 1)[0]!);
              expect(accepted).toBe(false);
            } else if (bytes > cap) {
              expect(accepted).toBe(false);
            } else {
              while (refBytes() + bytes > cap) ref.shift();
              ref.push([hash, bytes]);
              expect(accepted).toBe(true);
            }
          } else {
            const got = tier.take({ blockSize: 1, hashes: [hash], tokens: [o.key] }, 0, 1);
            const at = ref.findIndex(([k]) => k === hash);
            expect(got.length).toBe(at >= 0 ? 1 : 0);
            if (at >= 0) {
              expect(got[0]!.payload).toEqual(new Uint8Array(ref[at]![1] - 4).fill(o.key));
              ref.splice(at, 1);
            }
          }
          const s = tier.stats();
          expect(s.bytes).toBeLessThanOrEqual(cap);
          expect(s.bytes).toBe(refBytes());
          expect(tier.hashes()).toEqual(ref.map(([k]) => k));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("model: random requests through a small pool and a small host tier never read wrong KV, cap holds", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 14 }), {
        minLength: 1,
        maxLength: 25,
      }),
      fc.integer({ min: 0, max: 4 }),
      (prompts, capBlocks) => {
        const cache = new PagedKvCache({
          numLayers: L,
          numKvHeads: KV,
          headDim: HD,
          blockSize: 2,
          numBlocks: 8,
        });
        const blockBytes = cache.blockPayloadBytes + 2 * 4;
        const host = new HostTier(capBlocks * blockBytes);
        cache.attachHostTier(host);
        for (const prompt of prompts) {
          const seq = cache.admit(prompt)!;
          expect(seq).not.toBeNull();
          prefill(seq, prompt);
          // every position's KV, reused or computed, is the one computed for its token and position
          for (let l = 0; l < L; l++) {
            const { keys } = cache.read(seq, l);
            for (let p = 0; p < prompt.length; p++) {
              expect(keys.subarray(p * ROW, (p + 1) * ROW)).toEqual(rows(prompt[p]!, p, l, 0));
            }
          }
          const r = seq.reusedFrom;
          expect(r.device + r.host + r.file + r.redis).toBe(seq.cachedTokens);
          seq.release();
          expect(host.stats().bytes).toBeLessThanOrEqual(host.capBytes);
          expect(host.stats().blocks).toBeLessThanOrEqual(capBlocks);
        }
      },
    ),
    { numRuns: 150 },
  );
});

test("a host block of another size (a tier shared with another layout) is not copied in", () => {
  const cache = new PagedKvCache({ numLayers: L, numKvHeads: KV, headDim: HD, blockSize: 4, numBlocks: 4 });
  const host = new HostTier(1 << 20);
  cache.attachHostTier(host);
  const prompt = [1, 2, 3, 4, 5];
  host.put({
    hash: hashChain(prompt, 4)[0]!, // the cache's own chain hash of the first block (no prefix keys)
    parentHash: null,
    tokens: Uint32Array.from(prompt.slice(0, 4)),
    extra: null,
    payload: new Uint8Array(cache.blockPayloadBytes + 4),
    origin: "device",
  });
  const before = cache.stats();
  const seq = cache.admit(prompt)!;
  expect(seq.cachedTokens).toBe(0);
  expect(cache.stats().blocksInUse).toBe(before.blocksInUse);
});

test("a q8_0 host tier behind an f32 pool: 3.8x smaller blocks, KV back within q8_0's error, cap held", () => {
  const hd = 32; // q8_0 rows are whole 32-value blocks
  const row = KV * hd;
  const kv = (t: number, pos: number, l: number, kind: number) =>
    Float32Array.from({ length: row }, (_, i) => Math.cos(t * 0.21 + pos * 0.9 + l + kind * 0.5 + i * 0.3));
  const cache = new PagedKvCache({ numLayers: L, numKvHeads: KV, headDim: hd, blockSize: 4, numBlocks: 4 });
  const f32Block = cache.blockPayloadBytes;
  const q8Block = (f32Block / 4 / 32) * 34;
  const host = new HostTier(2 * (q8Block + 16), { format: "q8_0" }); // room for exactly two blocks
  cache.attachHostTier(host);
  const fill = (seq: PagedSequence, prompt: number[]) => {
    for (let p = seq.cachedTokens; p < prompt.length; p++) {
      seq.beginStep(prompt[p]!);
      for (let l = 0; l < L; l++) seq.write(l, kv(prompt[p]!, p, l, 0), kv(prompt[p]!, p, l, 1));
      seq.end();
    }
  };
  const a = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const s = cache.admit(a)!;
  fill(s, a);
  s.release();
  const b = [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64];
  const t = cache.admit(b)!;
  fill(t, b); // a's two cached blocks spill, re-quantized
  t.release();
  expect(host.stats()).toMatchObject({ blocks: 2, bytes: 2 * (q8Block + 16) });
  const again = cache.admit(a)!;
  expect(again.reusedFrom.host).toBe(8);
  for (let l = 0; l < L; l++) {
    const keys = cache.read(again, l).keys;
    for (let p = 0; p < 8; p++) {
      const want = kv(a[p]!, p, l, 0);
      for (let i = 0; i < row; i++)
        expect(Math.abs(keys[p * row + i]! - want[i]!)).toBeLessThan(1 / 127 + 1e-6);
    }
  }
  expect(host.stats().bytes).toBeLessThanOrEqual(host.capBytes);
  expect(() => cache.attachHostTier(new HostTier(1, { format: "q4_0" }))).not.toThrow();
  const odd = new PagedKvCache({ numLayers: 1, numKvHeads: 1, headDim: 8, numBlocks: 2 });
  expect(() => odd.attachHostTier(new HostTier(1, { format: "q8_0" }))).toThrow(/multiple of 32/);
});
