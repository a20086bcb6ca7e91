// Model-based test of the incremental hasher: however the tokens arrive (one by one, in chunks
// that complete many blocks at once and take the native chain, or chunks that fill no block),
// its state is hashChain of everything pushed so far.
import { expect, test } from "bun:test";
import { codeOf } from "@llmem/core/testing";
import fc from "fast-check";
import { type ChainOptions, hashChain, PrefixHasher, ROOT_HASH } from "../src/index.ts";

const optionsArb: fc.Arbitrary<ChainOptions> = fc.record(
  {
    lora: fc.oneof(fc.string({ maxLength: 5 }), fc.nat(99)),
    salt: fc.string({ maxLength: 6 }),
    custom: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
    multimodal: fc.array(
      fc.record({
        hash: fc.string({ maxLength: 4 }),
        offset: fc.nat(400),
        length: fc.integer({ min: 1, max: 30 }),
      }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

// chunks: a single token, a short array, or a long typed array (many blocks in one push)
const chunkArb = fc.oneof(
  fc.nat({ max: 0xffffffff }),
  fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 20 }),
  fc.array(fc.nat({ max: 0xffffffff }), { minLength: 60, maxLength: 300 }).map((a) => Uint32Array.from(a)),
);

for (const mode of ["fast", "secure"] as const) {
  test(`${mode}: PrefixHasher equals hashChain of everything pushed, however it is chunked`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        optionsArb,
        fc.array(chunkArb, { maxLength: 12 }),
        (bs, keys, chunks) => {
          const options = { ...keys, mode };
          const h = new PrefixHasher(bs, options);
          const model: number[] = [];
          const returned: bigint[] = [];
          for (const chunk of chunks) {
            const done = h.push(chunk);
            expect(done instanceof BigUint64Array).toBe(mode === "fast");
            returned.push(...done);
            if (typeof chunk === "number") model.push(chunk);
            else model.push(...chunk);
            const want = [...hashChain(model, bs, options)];
            expect(h.tokenCount).toBe(model.length);
            expect([...h.hashes]).toEqual(want);
            expect(returned).toEqual(want);
            expect(h.lastHash).toBe(want.at(-1) ?? ROOT_HASH);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
}

test("a bad token anywhere in a push leaves the hasher exactly as it was", () => {
  for (const mode of ["fast", "secure"] as const) {
    const h = new PrefixHasher(4, { mode, salt: "s" });
    h.push([1, 2, 3, 4, 5, 6]);
    const before = { hashes: [...h.hashes], count: h.tokenCount, last: h.lastHash };
    const long = Array.from({ length: 200 }, (_, i) => i);
    long[150] = -1;
    expect(codeOf(() => h.push(long))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => h.push(2 ** 32))).toBe("INVALID_ARGUMENT");
    expect({ hashes: [...h.hashes], count: h.tokenCount, last: h.lastHash }).toEqual(before);
    // and it carries on as if the bad pushes never happened
    h.push([7, 8]);
    expect([...h.hashes]).toEqual([...hashChain([1, 2, 3, 4, 5, 6, 7, 8], 4, { mode, salt: "s" })]);
  }
});

test("fast hashes stay valid after the storage grows, and a whole prompt hashes in one push", () => {
  const h = new PrefixHasher(16);
  h.push(new Uint32Array(16 * 3).fill(9));
  const early = h.hashes;
  const prompt = Uint32Array.from({ length: 16 * 5000 }, (_, i) => (i * 2654435761) >>> 0);
  const done = h.push(prompt);
  expect(done).toHaveLength(5000);
  expect([...early]).toEqual([...h.hashes.slice(0, 3)]);
  const all = new Uint32Array(16 * 5003).fill(9);
  all.set(prompt, 48);
  expect(h.hashes).toEqual(hashChain(all, 16));
  // options are checked up front, not when the first block completes
  expect(codeOf(() => new PrefixHasher(4, { multimodal: [{ hash: "x", offset: -1, length: 1 }] }))).toBe(
    "OUT_OF_RANGE",
  );
});

test("push rejects what is not a token or a list of them", () => {
  const h = new PrefixHasher(4);
  for (const bad of [null, undefined, {}, "abc", 1.5]) {
    expect(codeOf(() => h.push(bad as unknown as number[]))).toBe("INVALID_ARGUMENT");
  }
  expect(h.tokenCount).toBe(0);
});
