import { expect, test } from "bun:test";
import { detectedIsa, type Isa, isNativeAvailable, native, setIsa } from "@llmem/native";

export const hasNative = isNativeAvailable();

/** The native ISAs to cross-check (empty when native is off). */
export const ISAS: Isa[] = hasNative ? [...new Set<Isa>(["scalar", detectedIsa()!])] : [];

/**
 * Runs fn on each native ISA, restoring the best one afterwards. With native off there is no
 * ISA and fn never runs: a test whose every assertion sits in here would pass having asserted
 * nothing, so it then must have asserted something else, or fail; declare a test that only
 * checks native paths with `nativeTest` (a visible skip when native is off).
 */
export function eachIsa(fn: (isa: Isa) => void): void {
  if (ISAS.length === 0) expect.hasAssertions();
  try {
    for (const isa of ISAS) {
      setIsa(isa);
      fn(isa);
    }
  } finally {
    if (hasNative) setIsa(detectedIsa()!);
  }
}

/** A test that only checks native paths: skipped (and counted as skipped) when native is off. */
export const nativeTest = test.skipIf(!hasNative);

export function noteBackend(pkg: string): void {
  if (!hasNative)
    console.log(`[${pkg}] native library off (${native.loadError}): native cross-checks skipped`);
}

export { codeOf } from "@llmem/core/testing";

/** Deterministic LCG so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function randomF32(n: number, seed = 1, scale = 1): Float32Array {
  const r = rng(seed);
  return new Float32Array(n).map(() => (r() * 2 - 1) * scale);
}

/**
 * Blocks that stress the quantizers: zeros (both signs), scales that underflow fp16 or make
 * 1/d overflow, exact .5 ties, negative-dominant blocks, |max| ties of both signs, huge values,
 * infinities, single spikes, constant blocks.
 */
export function edgeBlocks(): Float32Array {
  const blocks: number[][] = [];
  const r = rng(7);
  const block = (f: (j: number) => number) => blocks.push(Array.from({ length: 32 }, (_, j) => f(j)));
  block(() => 0);
  block((j) => (j % 2 ? -0 : 0));
  block((j) => (j - 16) * 1e-9); // d underflows fp16 to 0 (or a subnormal)
  block((j) => (j - 16) * 1e-6); // fp16-subnormal scale
  block((j) => (j - 16) * 1e-38); // 1/d overflows f32
  block((j) => (j === 3 ? 1e-40 : 0)); // subnormal f32 amax
  block((j) => (j === 0 ? 127 : (j % 64) - 31.5)); // d = 1: exact .5 ties for q8
  block((j) => (j === 0 ? -8 : j % 2 ? 0.5 : -0.5)); // q4_0 d = 1: x*id+8.5 exact halves
  block((j) => (j === 0 ? 15 : j / 2)); // q4_1 d = 1 from min 0: exact .5 ties
  block((j) => -Math.abs(r() * 3) - (j === 5 ? 10 : 0)); // negative-dominant
  block((j) => (j === 4 ? -2 : j === 9 ? 2 : r())); // |max| tie: first (negative) wins
  block((j) => (j === 4 ? 2 : j === 9 ? -2 : r())); // |max| tie: first (positive) wins
  block((j) => (j - 16) * 1e30); // fp16 scale overflows to Inf
  block((j) => (j === 7 ? Number.POSITIVE_INFINITY : j)); // Inf input
  block((j) => (j === 7 ? Number.NEGATIVE_INFINITY : -j));
  block(() => -3.25); // constant block (q4_1: d = 0)
  block((j) => (j === 31 ? 1000 : 0.001 * j)); // a single spike
  block((j) => 65504 * (j % 2 ? 1 : -1)); // fp16 max
  block((j) => 3.4e38 * (j % 3 ? 1 : -1)); // near f32 max (q4_1 max-min overflows)
  return new Float32Array(blocks.flat());
}
