// Admission (all or nothing, reserved blocks, soft-free hits counted), waiting for a prefix a
// live sequence is computing, and tenant isolation by prefix keys.
import { expect, test } from "bun:test";
import { codeOf } from "@llmem/core/testing";
import fc from "fast-check";
import { PagedKvCache, type PagedSequence } from "../src/index.ts";

const KV = 1;
const HD = 4;
const ROW = KV * HD;

function cacheOf(numBlocks: number, blockSize = 4): PagedKvCache {
  return new PagedKvCache({ numLayers: 2, numKvHeads: KV, headDim: HD, blockSize, numBlocks });
}

/** Runs steps feeding `tokens` (the prompt positions after the cached ones, or generated ones). */
function run(seq: PagedSequence, tokens: readonly number[]): void {
  for (const t of tokens) {
    seq.beginStep(t);
    for (let l = 0; l < 2; l++) seq.write(l, new Float32Array(ROW).fill(t), new Float32Array(ROW).fill(l));
    seq.end();
  }
}

function prefill(seq: PagedSequence, prompt: readonly number[]): void {
  run(seq, prompt.slice(seq.cachedTokens));
}

const prompt = Array.from({ length: 9 }, (_, i) => 10 + i); // 2 full blocks of 4 + 1

test("admission reserves blocks up to maxTokens: a live sequence never runs short, others wait", () => {
  const cache = cacheOf(6);
  const a = cache.admit(prompt, { maxTokens: 16 })!; // 4 blocks
  expect(cache.stats().reservedBlocks).toBe(4);
  // 4 of 6 promised: a second 16-token request does not fit now (null, nothing changed)
  const before = cache.stats();
  expect(cache.admit([1, 2, 3], { maxTokens: 16 })).toBeNull();
  expect(cache.stats()).toEqual(before);
  const b = cache.admit([1, 2, 3], { maxTokens: 8 })!; // the last 2
  // b growing past its 2 blocks would take a's: refused, b unchanged
  run(b, [1, 2, 3, 4, 5, 6, 7, 8]);
  expect(codeOf(() => b.beginStep(9))).toBe("POOL_EXHAUSTED");
  expect(b.length).toBe(8);
  // a reaches its 16 tokens
  prefill(a, prompt);
  run(a, [1, 2, 3, 4, 5, 6, 7]);
  expect(a.length).toBe(16);
  expect(cache.stats().reservedBlocks).toBe(0);
  // never fits, even empty: CAPACITY_EXCEEDED rather than a null that would wait forever
  expect(codeOf(() => cache.admit([1], { maxTokens: 25 }))).toBe("CAPACITY_EXCEEDED");
  b.release();
  a.release();
  expect(cache.stats().blocksInUse).toBe(0);
  cache.dispose();
});

test("a soft-free prefix hit counts against the free blocks; a live one does not", () => {
  const cache = cacheOf(4);
  const a = cache.admit(prompt, { maxTokens: 12 })!;
  prefill(a, prompt);
  a.release(); // 3 blocks soft-free, 2 of them committed full blocks
  // 12 tokens = 3 blocks: 2 cached (soft-free, so they leave the free count) + 1 new = 3 of 4 free
  const b = cache.admit(prompt, { maxTokens: 12 })!;
  expect(b.cachedTokens).toBe(8);
  // now live: a third request sharing them needs only its own block, and 1 is free
  const c = cache.admit(prompt, { maxTokens: 12 })!;
  expect(c.cachedTokens).toBe(8);
  expect(c.blockIds().slice(0, 2)).toEqual(b.blockIds().slice(0, 2));
  expect(cache.admit([99], { maxTokens: 1 })).toBeNull(); // everything is held or promised
  b.release();
  c.release();
  // Counting soft-free hits matters: 2 blocks soft-free + 2 clean. A 16-token request hitting
  // both needs 2 new ones and takes the 2 hits out of the free 4: fits exactly.
  const d = cache.admit([...prompt.slice(0, 8), 1], { maxTokens: 16 })!;
  expect(d.cachedTokens).toBe(8);
  expect(cache.stats().reservedBlocks).toBe(2);
  expect(cache.admit([5], { maxTokens: 1 })).toBeNull();
  cache.dispose();
  // Where counting them decides: 6 blocks, 2 soft-free hits, 2 promised to a live sequence.
  const six = cacheOf(6);
  const first = six.admit(prompt, { maxTokens: 12 })!;
  prefill(first, prompt);
  first.release();
  six.admit([99], { maxTokens: 8 });
  // 20 tokens = 5 blocks: 3 new + 2 soft-free hits = 5 > the 4 not promised
  expect(six.admit(prompt, { maxTokens: 20 })).toBeNull();
  expect(six.admit(prompt, { maxTokens: 16 })!.cachedTokens).toBe(8); // 2 new + 2 hits = 4
  six.dispose();
});

test("waitsForPrefix: true while a live sequence computes the next block a prompt could reuse", () => {
  const cache = cacheOf(16);
  const a = cache.admit(prompt, { maxTokens: 12 })!;
  const same = [...prompt.slice(0, 8), 77, 78];
  expect(cache.waitsForPrefix(same)).toBe(true); // a will write blocks 0 and 1
  expect(cache.waitsForPrefix([1, 2, 3, 4, 5])).toBe(false); // shares nothing
  run(a, prompt.slice(0, 4)); // block 0 committed; block 1 still pending
  expect(cache.admit(same)!.cachedTokens).toBe(4);
  expect(cache.waitsForPrefix(same)).toBe(true);
  run(a, prompt.slice(4, 8));
  expect(cache.waitsForPrefix(same)).toBe(false); // both cached now
  expect(cache.admit(same)!.cachedTokens).toBe(8);
  // releasing a sequence before it computed its prompt stops others waiting for it
  const b = cache.admit([50, 51, 52, 53, 54])!;
  expect(cache.waitsForPrefix([50, 51, 52, 53, 9])).toBe(true);
  b.release();
  expect(cache.waitsForPrefix([50, 51, 52, 53, 9])).toBe(false);
  cache.dispose();
});

test("a cache built with one tenant salt never shares a block with another salt", () => {
  const tenants = ["tenant-a", "tenant-b"] as const;
  let hits = 0;
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          tenant: fc.constantFrom(0, 1),
          tokens: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 10 }),
          release: fc.boolean(),
        }),
        { maxLength: 12 },
      ),
      fc.constantFrom(1, 2, 4),
      (requests, blockSize) => {
        const cache = new PagedKvCache({
          numLayers: 2,
          numKvHeads: KV,
          headDim: HD,
          blockSize,
          numBlocks: 64,
          prefixKeys: { salt: tenants[0] },
        });
        const live: { seq: PagedSequence; tenant: number }[] = [];
        const served = [new Set<string>(), new Set<string>()];
        for (const r of requests) {
          const keys = r.tenant === 0 ? undefined : { salt: tenants[1] }; // tenant a: the cache's own salt
          const seq = cache.admit(r.tokens, { maxTokens: r.tokens.length, prefixKeys: keys });
          if (seq === null) continue;
          hits += seq.cachedTokens;
          // a hit is a prefix this tenant served before, never one only the other tenant did
          if (seq.cachedTokens > 0)
            expect(served[r.tenant]!.has(String(r.tokens.slice(0, seq.cachedTokens)))).toBe(true);
          // the other tenant never waits for this one's blocks (this sequence is the only one computing)
          expect(cache.waitsForPrefix(r.tokens, r.tenant === 0 ? { salt: tenants[1] } : undefined)).toBe(
            false,
          );
          prefill(seq, r.tokens);
          for (let n = blockSize; n <= r.tokens.length; n += blockSize)
            served[r.tenant]!.add(String(r.tokens.slice(0, n)));
          live.push({ seq, tenant: r.tenant });
          // no block is held by sequences of both tenants
          const owner = new Map<number, number>();
          for (const { seq: s, tenant } of live) {
            for (const b of s.blockIds()) {
              expect(owner.get(b) ?? tenant).toBe(tenant);
              owner.set(b, tenant);
            }
          }
          if (r.release) live.splice(live.length - 1, 1)[0]!.seq.release();
        }
        cache.dispose();
      },
    ),
    { numRuns: 200 },
  );
  expect(hits).toBeGreaterThan(0); // same-tenant reuse did happen
});

test("a step inside the prompt must feed the prompt's tokens; past it, the fed tokens are appended", () => {
  const cache = cacheOf(8);
  const s = cache.admit([1, 2, 3], { maxTokens: 8 })!;
  expect(codeOf(() => s.beginStep(9))).toBe("INVALID_ARGUMENT");
  expect(() => s.beginStep([1, 5])).toThrow(/tokens\[1\] = 5 at position 1, where the sequence holds 2/);
  expect(s.length).toBe(0);
  expect(cache.stats().blocksInUse).toBe(0); // nothing placed
  run(s, [1, 2]);
  s.beginStep([3, 7, 8]);
  for (let l = 0; l < 2; l++) s.write(l, new Float32Array(3 * ROW), new Float32Array(3 * ROW));
  s.end();
  expect(s.tokens()).toEqual([1, 2, 3, 7, 8]);
  expect(s.length).toBe(5);
  cache.dispose();
});
