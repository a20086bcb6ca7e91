/** Issue 16 in prefix-hash: exported tables are frozen; token views are measured by the engine. */
import { expect, test } from "bun:test";
import { expectRefused } from "@llmem/core/testing";
import { hashWords, KEY_TAGS } from "../src/index.ts";

test("KEY_TAGS is frozen (a writable tag would make two key kinds hash alike)", () => {
  expect(Object.isFrozen(KEY_TAGS)).toBe(true);
  expect(() => {
    (KEY_TAGS as { salt: number }).salt = 1;
  }).toThrow(TypeError);
});

test("a detached or lying Uint32Array is refused, not hashed as something else", () => {
  const detached = new Uint32Array([1, 2, 3]);
  detached.buffer.transfer();
  expectRefused(() => hashWords(detached));
  const lying = new Uint32Array([1, 2]);
  Object.defineProperty(lying, "length", { value: 64 });
  expectRefused(() => hashWords(lying));
});

test("fuzz finds: PrefixHasher and the chain functions check every key, id and length up front", async () => {
  const { changingField, refusesNaming } = await import("@llmem/core/testing");
  const { hashChain, PrefixHasher } = await import("../src/index.ts");
  // A bad salt / LoRA / custom key was accepted, then threw at the first completed block.
  refusesNaming(() => new PrefixHasher(4, { salt: 5 as never }), "salt");
  refusesNaming(() => new PrefixHasher(4, { lora: -1 }), "lora");
  refusesNaming(() => new PrefixHasher(4, { custom: "abc" as never }), "custom");
  refusesNaming(() => new PrefixHasher(4, null as never), "options");
  // A detached key hashed as an empty one.
  const detachedKey = new Uint8Array(4);
  detachedKey.buffer.transfer();
  refusesNaming(() => hashChain([1, 2, 3, 4], 4, { salt: detachedKey }), "salt");
  const h = new PrefixHasher(4);
  const snap = () => ({ n: h.tokenCount, hashes: Array.from(h.hashes) });
  // `instanceof Uint32Array` let a lying subclass, a byte array wearing the prototype and a
  // detached array through without checks: tokens that were not there were hashed.
  const lying = new Uint32Array([1, 2]);
  Object.defineProperty(lying, "length", { value: 8 });
  refusesNaming(() => h.push(lying), "tokens", snap);
  const detached = new Uint32Array([1, 2, 3, 4]);
  detached.buffer.transfer();
  refusesNaming(() => h.push(detached), "tokens", snap);
  // `>>>` on a symbol or a bigint threw a TypeError.
  refusesNaming(() => h.push([1, Symbol("t")] as never), "tokens", snap);
  refusesNaming(() => h.push([5n] as never), "tokens", snap);
  // A length read twice: 4 when checked, 0 when used.
  expect(() => hashChain(changingField({ length: 4 }, "length", 4, 0) as never, 4)).toThrow();
  // Options edited after the hasher was built leaked into later blocks.
  const options = { custom: ["rev-1"] };
  const edited = new PrefixHasher(4, options);
  options.custom.push("rev-2");
  expect(Array.from(edited.push([1, 2, 3, 4]))).toEqual(
    Array.from(hashChain([1, 2, 3, 4], 4, { custom: ["rev-1"] })),
  );
});
