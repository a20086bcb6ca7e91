import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { argmax, Rng, Sampler, sampleMult, sampleTopp, ToppScratch } from "../src/sampler.ts";

describe("Rng (xorshift*, as run.c)", () => {
  test("random_u32 from seed 42 matches the C generator", () => {
    const r = new Rng(42n);
    expect([1, 2, 3, 4, 5].map(() => r.nextU32())).toEqual([
      1456360119, 3359763283, 3393612768, 4054632243, 3283045847,
    ]);
  });
  test("random_f32 from seed 2^64-1 matches the C generator", () => {
    const r = new Rng(2n ** 64n - 1n);
    expect([0, 1, 2].map(() => Math.fround(r.nextF32()))).toEqual(
      [0.973339617, 0.562324762, 0.20478183].map(Math.fround),
    );
  });
  test("random_f32 stays in [0, 1)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), (seed) => {
        const r = new Rng(seed);
        for (let i = 0; i < 20; i++) {
          const x = r.nextF32();
          if (!(x >= 0 && x < 1)) return false;
        }
        return true;
      }),
    );
  });
});

describe("sampling rules", () => {
  test("argmax takes the first of equal maxima", () => {
    expect(argmax(Float32Array.of(0.1, 0.5, 0.5, 0.2))).toBe(1);
  });
  test("multinomial walks the cdf and falls back to the last index", () => {
    const p = Float32Array.of(0.25, 0.25, 0.5);
    expect(sampleMult(p, 0)).toBe(0);
    expect(sampleMult(p, 0.3)).toBe(1);
    expect(sampleMult(p, 0.9999)).toBe(2);
    expect(sampleMult(Float32Array.of(0.1, 0.1), 0.5)).toBe(1);
  });
  test("top-p keeps the smallest set over p; ties keep index order (glibc's stable qsort)", () => {
    const p = Float32Array.of(0.1, 0.3, 0.3, 0.2, 0.1);
    const idx = new ToppScratch(5);
    // sorted: 1 (.3), 2 (.3), 3 (.2), 0 (.1), 4 (.1); top-p 0.5 keeps 1, 2 (cum .6)
    expect(sampleTopp(p, 0.5, 0, idx)).toBe(1);
    expect(sampleTopp(p, 0.5, 0.49, idx)).toBe(1);
    expect(sampleTopp(p, 0.5, 0.51, idx)).toBe(2);
    expect(sampleTopp(p, 0.5, 0.999, idx)).toBe(2);
  });
  test("top-p cuts where the sum first exceeds p, strictly as run.c: a sum equal to p keeps going", () => {
    // Exact in f32: the sum is .5, .75 (= p, not over it), 1. run.c keeps all three and draws
    // with coin × 1; cutting at .75 would keep two and draw with coin × .75.
    const p = Float32Array.of(0.5, 0.25, 0.25);
    expect(sampleTopp(p, 0.75, 0.9, new ToppScratch(3))).toBe(2);
    expect(sampleTopp(p, 0.75, 0.6, new ToppScratch(3))).toBe(1);
  });
  test("top-p draws only from the nucleus for any coin", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 40 }),
        fc.float({ min: Math.fround(0.05), max: Math.fround(0.95), noNaN: true }),
        fc.float({ min: 0, max: Math.fround(0.9999), noNaN: true }),
        (raw, topp, coin) => {
          const sum = raw.reduce((a, b) => a + b, 0);
          if (sum === 0) return true;
          const p = Float32Array.from(raw, (v) => v / sum);
          const pick = sampleTopp(p, topp, coin, new ToppScratch(p.length));
          // Every token with a strictly higher probability than the pick is in the nucleus too.
          const higher = [...p].filter((v) => v > p[pick]!).reduce((a, b) => a + b, 0);
          return higher <= topp + 1e-6;
        },
      ),
    );
  });
  test("top-p order is (probability desc, index asc) like a stable sort, for any input", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0.001, 0.002, 0.25, 0.0625, 1e-9, 0.5), { minLength: 1, maxLength: 60 }),
        fc.float({ min: 0, max: Math.fround(0.9999), noNaN: true }),
        (raw, coin) => {
          const p = Float32Array.from(raw);
          const sum = raw.reduce((a, b) => a + b, 0);
          const topp = Math.fround(0.9);
          // Reference: run.c's algorithm with a comparator sort (stable in JS, as glibc's merge sort).
          const cutoff = Math.fround(Math.fround(1 - topp) / (p.length - 1));
          const cand = [...p.keys()].filter((i) => p[i]! >= cutoff).sort((a, b) => p[b]! - p[a]! || a - b);
          if (cand.length === 0 || sum === 0) return true;
          let cum = 0;
          let last = cand.length - 1;
          for (let i = 0; i < cand.length; i++) {
            cum = Math.fround(cum + p[cand[i]!]!);
            if (cum > topp) {
              last = i;
              break;
            }
          }
          const r = Math.fround(coin * cum);
          let cdf = 0;
          let want = cand[last]!;
          for (let i = 0; i <= last; i++) {
            cdf = Math.fround(cdf + p[cand[i]!]!);
            if (r < cdf) {
              want = cand[i]!;
              break;
            }
          }
          return sampleTopp(p, topp, coin, new ToppScratch(p.length)) === want;
        },
      ),
      { numRuns: 500 },
    );
  });
  test("top-p sums in f32 as run.c: the cut, the scaled coin and the cdf are each rounded to float", () => {
    // Each case is one where a double instead of a float changes the pick (found by search, kept
    // as exact f32 literals).
    // 0.5 + 0.2000000030 is 0.7000000030 in f64 but rounds to f32 0.7 = p: not over p yet, go on
    const b = Math.fround(0.7) - 0.5 + 2 ** -26;
    const cut = Float32Array.of(0.15, 0.5, 0.15, b);
    expect(sampleTopp(cut, Math.fround(0.7), Math.fround(0.999), new ToppScratch(4))).toBe(0);
    // coin × cumulative rounds up onto a cdf step in f32
    const r = Float32Array.of(
      0.22836455702781677,
      0.23621535301208496,
      0.1748175173997879,
      0.36060258746147156,
    );
    expect(sampleTopp(r, Math.fround(0.95), 0.8251824378967285, new ToppScratch(4))).toBe(2);
    // the cdf's f32 sum lands above the scaled coin where an f64 sum stays below
    const cdf = Float32Array.of(
      0.06970977783203125,
      0.42772176861763,
      0.38682082295417786,
      0.11574763804674149,
    );
    expect(sampleTopp(cdf, Math.fround(0.95), 0.9302902221679688, new ToppScratch(4))).toBe(0);
  });
  test("the sampler keeps temperature and top-p as C floats", () => {
    // 0.6 rounds up to 0.60000002 as a float: a cumulative sum of exactly that is not over top-p
    const s = new Sampler({ temperature: 0.7, topp: 0.6, seed: 1n });
    expect([s.temperature, s.topp]).toEqual([Math.fround(0.7), Math.fround(0.6)]);
  });
  test("top-p below 1/n keeps no candidate in run.c (undefined there): the argmax here", () => {
    expect(sampleTopp(Float32Array.of(0.4, 0.6), Math.fround(0.05), 0, new ToppScratch(2))).toBe(1);
  });
  test("temperature 0 is argmax and consumes no randomness", () => {
    const s = new Sampler({ temperature: 0, topp: 0.9, seed: 1n });
    expect(s.sample(Float32Array.of(1, 3, 2))).toBe(1);
  });
});
