// The native LH64 (scalar and SIMD paths) must equal the TypeScript path bit for bit.
import { expect, test } from "bun:test";
import { codeOf, expectLlmemError } from "@llmem/core/testing";
import { backend, hashNative as nativeAvailable, nativeChain, nativeHash64, setIsa } from "@llmem/native";
import fc from "fast-check";
import { lh64Block, lh64Chain } from "../src/lh64.ts";

const native = nativeAvailable();
if (!native) console.log("native LH64 tests skipped: libllmem not loaded (LLMEM_NATIVE=0 or not built)");

const isas = native ? (["scalar", backend()] as const) : [];

test.skipIf(!native)("native chain and single-block hash equal the TS path on every ISA", () => {
  for (const isa of isas) {
    setIsa(isa as "scalar");
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 37 }),
        fc.array(fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 11 }), { maxLength: 8 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (list, bs, extras, parent) => {
          const tokens = Uint32Array.from(list);
          const blocks = Math.floor(tokens.length / bs);
          const perBlock = Array.from(
            { length: blocks },
            (_, i) => extras[i % Math.max(1, extras.length)] ?? [],
          );
          const offsets = new Uint32Array(blocks + 1);
          for (let i = 0; i < blocks; i++) offsets[i + 1] = offsets[i]! + perBlock[i]!.length;
          const extra = Uint32Array.from(perBlock.flat());
          const want = new Uint32Array(2 * blocks);
          const got = new Uint32Array(2 * blocks);
          const lo = Number(parent & 0xffffffffn);
          const hi = Number(parent >> 32n);
          lh64Chain(tokens, bs, blocks, extra, offsets, lo, hi, want);
          expect(nativeChain(tokens, bs, blocks, extra, offsets, parent, got)).toBe(true);
          expect(got).toEqual(want);
          // without extra keys (the TS chain's whole-stripe fast path when bs is a multiple of 8)
          const bs8 = 8 * Math.ceil(bs / 8);
          const nb8 = Math.floor(tokens.length / bs8);
          const want8 = new Uint32Array(2 * nb8);
          const got8 = new Uint32Array(2 * nb8);
          lh64Chain(tokens, bs8, nb8, null, null, lo, hi, want8);
          expect(nativeChain(tokens, bs8, nb8, null, null, parent, got8)).toBe(true);
          expect(got8).toEqual(want8);
          const one = new Uint32Array(2);
          const e = Uint32Array.from(extras[0] ?? []);
          lh64Block(tokens, 0, tokens.length, e.length ? e : null, lo, hi, one, 0);
          expect(nativeHash64(tokens, e.length ? e : null, parent)).toBe(
            (BigInt(one[1]!) << 32n) | BigInt(one[0]!),
          );
        },
      ),
      { numRuns: 200 },
    );
  }
  setIsa(isas[1] as "scalar");
});

test.skipIf(!native)("hostile lengths never reach C", () => {
  const tokens = new Uint32Array(32);
  const out = new Uint32Array(8);
  expect(codeOf(() => nativeChain(tokens, 16, 3, null, null, 0n, out))).toBe("OUT_OF_BOUNDS");
  expect(codeOf(() => nativeChain(tokens, 8, 4, null, null, 0n, new Uint32Array(7)))).toBe("OUT_OF_BOUNDS");
  const extra = new Uint32Array(4);
  expect(codeOf(() => nativeChain(tokens, 8, 2, extra, new Uint32Array([0, 2]), 0n, out))).toBe(
    "OUT_OF_BOUNDS",
  );
  expect(codeOf(() => nativeChain(tokens, 8, 2, extra, new Uint32Array([0, 5, 5]), 0n, out))).toBe(
    "OUT_OF_BOUNDS",
  );
  expect(codeOf(() => nativeChain(tokens, 8, 2, extra, new Uint32Array([3, 1, 4]), 0n, out))).toBe(
    "OUT_OF_BOUNDS",
  );
  expect(codeOf(() => nativeChain(tokens, 8, 2, null, new Uint32Array([0, 1, 1]), 0n, out))).toBe(
    "OUT_OF_BOUNDS",
  );
  expect(codeOf(() => nativeChain(tokens, 8, 2, extra, new Uint32Array([0, 2, 4]), 0n, out))).toBeUndefined();
  // The refusal is an LlmemError naming the argument and the limit, not a bare code.
  expectLlmemError(() => nativeChain(tokens, 16, 3, null, null, 0n, out), "OUT_OF_BOUNDS", "tokens", "32");
});
