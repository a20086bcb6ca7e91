// Fast-mode chains come back as a BigUint64Array (a view over the words the chain wrote, no
// bigint per block), secure-mode chains as bigint[]; every API that takes a hash list takes both.
import { expect, test } from "bun:test";
import { hashNative as nativeAvailable } from "@llmem/native";
import fc from "fast-check";
import { fastChainIntoHashes, NATIVE_MIN_WORDS, wordsToHashes } from "../src/chain.ts";
import { type ChainOptions, type HashList, hashChain, hashChainWords } from "../src/index.ts";

console.log(
  `hash-list tests: ${nativeAvailable() ? "native library loaded" : "TS path only (native off)"}; inputs of ≥ ${NATIVE_MIN_WORDS} words take the native chain when it is loaded`,
);

/** What hashChain returned before it gave a BigUint64Array: one bigint per (lo, hi) pair. */
function bigintsFromWords(words: Uint32Array): bigint[] {
  return Array.from(
    { length: words.length / 2 },
    (_, i) => (BigInt(words[2 * i + 1]!) << 32n) | BigInt(words[2 * i]!),
  );
}

test("fast hashChain equals, element by element, the bigints built from hashChainWords", () => {
  const keys = fc.record(
    {
      lora: fc.oneof(fc.string({ maxLength: 6 }), fc.nat(1000)),
      salt: fc.string({ maxLength: 9 }),
      custom: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
      multimodal: fc.array(
        fc.record({
          hash: fc.string({ maxLength: 4 }),
          offset: fc.nat(300),
          length: fc.integer({ min: 1, max: 40 }),
        }),
        { maxLength: 3 },
      ),
      parent: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(
      // up to 600 tokens: both sides of NATIVE_MIN_WORDS, so the native chain runs when loaded
      fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 600 }),
      fc.integer({ min: 1, max: 40 }),
      keys,
      (list, bs, options) => {
        const hashes = hashChain(list, bs, options);
        expect(hashes).toBeInstanceOf(BigUint64Array);
        expect(hashes).toHaveLength(Math.floor(list.length / bs));
        expect([...hashes]).toEqual(bigintsFromWords(hashChainWords(list, bs, options)));
      },
    ),
    { numRuns: 300 },
  );
  // a 128K-token prompt in 16-token blocks, the benchmark's shape
  const prompt = Uint32Array.from({ length: 128 * 1024 }, (_, i) => Math.imul(i, 0x9e3779b1) >>> 0);
  const big = hashChain(prompt, 16);
  expect(big).toHaveLength(8192);
  expect([...big]).toEqual(bigintsFromWords(hashChainWords(prompt, 16)));
  expect(hashChain([1, 2, 3], 4)).toEqual(new BigUint64Array(0));
});

test("secure hashChain stays a bigint[] of 256-bit hashes", () => {
  const h = hashChain([1, 2, 3, 4, 5, 6, 7, 8], 4, { mode: "secure" });
  expect(Array.isArray(h)).toBe(true);
  expect(h).toHaveLength(2);
  expect(h.some((x) => x >= 1n << 64n)).toBe(true);
});

test("the big-endian and unaligned fallbacks build the same hashes element by element", () => {
  const words = hashChainWords(
    Uint32Array.from({ length: 96 }, (_, i) => i * 31),
    8,
  );
  const view = wordsToHashes(words, true);
  expect(view.buffer).toBe(words.buffer); // little-endian: a view, nothing copied
  const built = wordsToHashes(words, false);
  expect(built.buffer).not.toBe(words.buffer);
  expect(built).toEqual(view);
  expect([...built]).toEqual(bigintsFromWords(words));
  // a view at an odd word offset cannot be read as u64s in place
  const shifted = new Uint32Array(words.length + 1);
  shifted.set(words, 1);
  expect(wordsToHashes(shifted.subarray(1), true)).toEqual(view);
  // PrefixHasher's store: written in place (little-endian) or element by element, the same values
  const tokens = Uint32Array.from({ length: 8 * 40 }, (_, i) => i * 7919);
  for (const keys of [undefined, { lora: "x", multimodal: [{ hash: "m", offset: 30, length: 50 }] }]) {
    const inPlace = new BigUint64Array(45);
    const built = new BigUint64Array(45);
    fastChainIntoHashes(tokens, 8, 40, 3, keys, 12345n, inPlace, 5, true);
    fastChainIntoHashes(tokens, 8, 40, 3, keys, 12345n, built, 5, false);
    expect(built).toEqual(inPlace);
    expect(inPlace[4]).toBe(0n);
    expect(inPlace[5]).not.toBe(0n);
  }
});

test("the result type follows the mode", () => {
  const t = [1, 2, 3, 4];
  const fast: BigUint64Array = hashChain(t, 2);
  const fast2: BigUint64Array = hashChain(t, 2, { mode: "fast", lora: "x" });
  const secure: bigint[] = hashChain(t, 2, { mode: "secure" });
  const general: ChainOptions = { salt: "s" };
  const either: BigUint64Array | bigint[] = hashChain(t, 2, general);
  // @ts-expect-error: fast mode is not a bigint[]
  const wrong: bigint[] = hashChain(t, 2);
  // @ts-expect-error: secure mode is not a BigUint64Array
  const wrong2: BigUint64Array = hashChain(t, 2, { mode: "secure" });
  const lists: HashList[] = [fast, fast2, secure, either, wrong, wrong2];
  expect(lists.map((l) => l.length)).toEqual([2, 2, 2, 2, 2, 2]);
});
