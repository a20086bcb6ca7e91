/**
 * Issue 16, fuzzed: every argument of every prefix-hash entry point, given hostile values
 * (token lists with holes, lying lengths, bad ids at any position, detached or dressed-up
 * views, bad parents, modes and keys, options that are not objects), throws an LlmemError
 * naming the argument; a PrefixHasher that refused a push reads the same afterwards (hashes,
 * token count, last hash) and goes on hashing exactly as one that never saw the bad call.
 */
import { test } from "bun:test";
import { isDetachedView, typedArrayKind } from "@llmem/core";
import {
  fakeView,
  hostileScalar,
  hostileValue,
  lyingView,
  refusesNaming,
  wrongType,
} from "@llmem/core/testing";
import fc from "fast-check";
import {
  blockHash,
  blockHashFromWords,
  encodeExtraKeys,
  formatHash,
  hashChain,
  hashChainWords,
  hashWords,
  PrefixHasher,
} from "../src/index.ts";

// A failing property prints the error it threw (which check, which state changed), not only the input.
fc.configureGlobal({ includeErrorInReport: true });
const RUNS = 60;
const BS = 4;

const detachedU32 = () => {
  const d = new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  d.buffer.transfer();
  return d;
};
const engineLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "length")!
  .get!;
/** A live typed array whose `length` is the engine's: its elements are a fine list of ids. */
const honestView = (v: ArrayBufferView) =>
  typedArrayKind(v) !== undefined && !isDetachedView(v) && (v as Uint8Array).length === engineLength.call(v);
/** Token ids that are not ids: hostile scalars and wrong types (an id is an integer in [0, 2^32)). */
const badId = fc
  .oneof(hostileScalar, wrongType, fc.constantFrom(2 ** 32, -1, 1.5, 2 ** 53))
  .filter((v) => !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32));
/**
 * The oracle: a plain array-like (not a typed array) whose length is a size and whose every
 * element is an id is a fine token list, whatever its prototype.
 */
const validList = (v: unknown): boolean => {
  if (typeof v !== "object" || v === null || typedArrayKind(v) !== undefined) return false;
  const n = (v as ArrayLike<unknown>).length;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 2 ** 22) return false;
  for (let i = 0; i < n; i++) {
    const t = (v as ArrayLike<unknown>)[i];
    if (typeof t !== "number" || t >>> 0 !== t) return false;
  }
  return true;
};
/** A token list that is not one: one bad id at any position, holes, lying or detached views, non-lists. */
const badTokens = fc
  .oneof(
    fc
      .record({ ids: fc.array(fc.nat(32000), { maxLength: 12 }), at: fc.nat(12), bad: badId })
      .map(({ ids, at, bad }) => {
        const list: unknown[] = [...ids];
        list.splice(at % (ids.length + 1), 0, bad);
        return list;
      }),
    // holes (a sparse array) and array-likes whose length is not a size
    fc.array(fc.nat(32000), { minLength: 1, maxLength: 8 }).chain((ids) =>
      fc.nat(ids.length - 1).map((at) => {
        const list = [...ids];
        delete list[at];
        return list;
      }),
    ),
    fc.constantFrom(-1, 1.5, 2 ** 40, Number.NaN).map((length) => ({ length })),
    // views claiming more elements than they hold (an honest view of any kind is a valid list)
    lyingView.filter((v) => !honestView(v)),
    fakeView.filter((v) => !Array.isArray(v)), // (an array with an own byteLength is a fine list)
    fc.constantFrom(null, undefined, "abcd", Symbol("t"), 7n, true, {}),
    fc.constant(null).map(detachedU32),
  )
  .filter((v) => !validList(v));
/** Not a parent: anything but a bigint in [0, 2^64) (fast mode). */
const badParent = fc
  .oneof(hostileValue, fc.constantFrom(-1n, 1n << 64n, 5, "0"))
  .filter((v) => typeof v !== "bigint" || v < 0n || v >= 1n << 64n);
const badMode = fc.oneof(hostileValue, fc.constantFrom("FAST", "sha256", "")).filter((v) => v != null); // null or undefined: the default
/** Keys that are not keys: a key is a string or a live Uint8Array. */
const badKey = fc.oneof(
  fc.constantFrom(5, null, {}, [1, 2], Symbol("k"), 3n, new Uint32Array(2), new Float32Array(1)),
  fc.constant(null).map(() => {
    const d = new Uint8Array(4);
    d.buffer.transfer();
    return d;
  }),
  fc.constant(null).map(() => Object.create(Uint8Array.prototype)),
);
/** Chain options with one hostile field, and the word the error must name. */
const badOptions: fc.Arbitrary<[RegExp, unknown]> = fc.oneof(
  fc.constantFrom(null, 5, "opts", Symbol("o"), 1n).map((o): [RegExp, unknown] => [/options/, o]),
  badMode.map((mode): [RegExp, unknown] => [/mode/, { mode }]),
  badKey.filter((k) => k !== null).map((salt): [RegExp, unknown] => [/salt/, { salt }]),
  fc
    .oneof(badKey, fc.constantFrom(-1, 1.5, 2 ** 53))
    .filter((l) => l !== null && typeof l !== "string" && !(Number.isSafeInteger(l) && (l as number) >= 0))
    .map((lora): [RegExp, unknown] => [/lora/, { lora }]),
  badKey.filter((c) => c !== null).map((c): [RegExp, unknown] => [/custom/, { custom: ["ok", c] }]),
  fc.constantFrom("abc", 5, {}, { length: 2 }).map((custom): [RegExp, unknown] => [/custom/, { custom }]),
  fc
    .oneof(
      fc.constantFrom(null, 5, "m"),
      badKey.filter((h) => h !== null).map((hash) => ({ hash, offset: 0, length: 4 })),
      fc
        .oneof(badId, fc.constant(-1))
        .filter((o) => !(Number.isSafeInteger(o) && (o as number) >= 0))
        .map((offset) => ({ hash: "h", offset, length: 4 })),
      fc
        .oneof(badId, fc.constant(0))
        .filter((l) => !(Number.isSafeInteger(l) && (l as number) >= 1))
        .map((length) => ({ hash: "h", offset: 0, length })),
    )
    .map((item): [RegExp, unknown] => [
      /multimodal/,
      { multimodal: [{ hash: "ok", offset: 0, length: 1 }, item] },
    ]),
  fc
    .constantFrom("abc", 5, { length: 1 })
    .map((multimodal): [RegExp, unknown] => [/multimodal/, { multimodal }]),
);

test("hashChain / hashChainWords / hashWords / blockHash refuse hostile tokens, sizes, parents, modes and keys", () => {
  fc.assert(
    fc.property(badTokens, (tokens) => {
      refusesNaming(() => hashChain(tokens as number[], BS), "tokens");
      refusesNaming(() => hashChainWords(tokens as number[], BS), "tokens");
      refusesNaming(() => hashChain(tokens as number[], BS, { mode: "secure" }), "tokens");
      refusesNaming(() => hashWords(tokens as number[]), "words");
      refusesNaming(() => blockHash(0n, tokens as number[]), "tokens");
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.oneof(hostileValue, fc.constantFrom(0, 2 ** 21)), (bs) => {
      refusesNaming(() => hashChain([1, 2, 3, 4], bs as number), "blockSize");
      refusesNaming(() => hashChainWords([1, 2, 3, 4], bs as number), "blockSize");
      refusesNaming(() => new PrefixHasher(bs as number), "blockSize");
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(badParent, (parent) => {
      // (an absent parent, null or undefined, is the root)
      if (parent != null)
        refusesNaming(() => hashChain([1, 2, 3, 4], BS, { parent: parent as bigint }), "parent");
      refusesNaming(() => blockHash(parent as bigint, [1, 2]), "parent");
      refusesNaming(() => blockHashFromWords(parent as bigint, Uint32Array.of(1), null), "parent");
      refusesNaming(() => formatHash(parent as bigint), "parent");
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(badMode, (mode) => {
      refusesNaming(() => blockHash(0n, [1, 2], undefined, mode as never), "mode");
      refusesNaming(() => formatHash(0n, mode as never), "mode");
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(badOptions, ([name, options]) => {
      refusesNaming(() => hashChain([1, 2, 3, 4, 5, 6, 7, 8], BS, options as never), name);
      refusesNaming(() => new PrefixHasher(BS, options as never), name);
    }),
    { numRuns: RUNS * 2 },
  );
});

test("blockHashFromWords / encodeExtraKeys refuse views of another kind, detached ones and bad keys", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        badTokens.filter((t) => t !== undefined),
        fc.constantFrom(new Uint8Array(4), new Float32Array(2), [1, 2]),
      ),
      fc.boolean(),
      (bad, asExtra) => {
        if (asExtra && bad === null) return; // null extraWords means none
        const call = asExtra
          ? () => blockHashFromWords(0n, Uint32Array.of(1, 2), bad as Uint32Array)
          : () => blockHashFromWords(0n, bad as Uint32Array, null);
        refusesNaming(call, /tokens|extraWords/);
      },
    ),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.constantFrom(null, 5, "k", Symbol("k")).map((keys): [RegExp, unknown] => [/extraKeys/, keys]),
        badKey.filter((k) => k !== null).map((salt): [RegExp, unknown] => [/salt/, { salt }]),
        badKey.filter((k) => k !== null).map((c): [RegExp, unknown] => [/custom/, { custom: ["ok", c] }]),
        badKey.filter((k) => k !== null).map((h): [RegExp, unknown] => [/multimodal/, { multimodal: [h] }]),
        fc.constantFrom("abc", 5, { length: 1 }).map((custom): [RegExp, unknown] => [/custom/, { custom }]),
      ),
      ([name, keys]) => {
        refusesNaming(() => encodeExtraKeys(keys as never), name);
        refusesNaming(() => blockHash(0n, [1, 2], keys as never), name);
      },
    ),
    { numRuns: RUNS },
  );
});

test("a PrefixHasher that refuses a push changes nothing and goes on as if it never saw it", () => {
  fc.assert(
    fc.property(
      fc.constantFrom<"fast" | "secure">("fast", "secure"),
      fc.array(fc.nat(32000), { maxLength: 10 }),
      badTokens,
      fc.array(fc.nat(32000), { minLength: 1, maxLength: 10 }),
      (mode, before, bad, after) => {
        const options = {
          mode,
          salt: "tenant",
          lora: 2,
          multimodal: [{ hash: "img", offset: 2, length: 5 }],
        };
        const h = new PrefixHasher(BS, options);
        const reference = new PrefixHasher(BS, options);
        h.push(before);
        reference.push(before);
        const snapshot = () => ({ hashes: Array.from(h.hashes), tokens: h.tokenCount, last: h.lastHash });
        refusesNaming(() => h.push(bad as number[]), "tokens", snapshot);
        const got = Array.from(h.push(after));
        const want = Array.from(reference.push(after));
        if (JSON.stringify(got.map(String)) !== JSON.stringify(want.map(String))) {
          throw new Error("the hasher hashed differently after a refused push");
        }
      },
    ),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.oneof(badId, fc.constant(-1)), (id) => {
      const h = new PrefixHasher(BS);
      h.push([1, 2, 3]);
      const snapshot = () => ({ hashes: Array.from(h.hashes), tokens: h.tokenCount });
      refusesNaming(() => h.push(id as number), "tokens", snapshot);
    }),
    { numRuns: RUNS },
  );
});

test("options edited after a hasher was built change nothing (read once, keys copied)", () => {
  fc.assert(
    fc.property(fc.array(fc.nat(32000), { minLength: BS, maxLength: 16 }), (tokens) => {
      const salt = new TextEncoder().encode("tenant");
      const options = { salt, lora: 2, custom: ["rev-1"] };
      const h = new PrefixHasher(BS, options);
      salt[0] = 0;
      options.lora = 3;
      options.custom.push("rev-2");
      const expected = hashChain(tokens, BS, { salt: "tenant", lora: 2, custom: ["rev-1"] });
      const got = h.push(tokens);
      if (Array.from(got).join() !== Array.from(expected).join()) throw new Error("edited options leaked in");
    }),
    { numRuns: 30 },
  );
});
