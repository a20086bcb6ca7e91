/**
 * Issue 16 in quant-kernels: the inline fast paths cannot be fooled by own length/byteLength
 * properties, and fields checked once are not read again (matvec's matrix, attention geometry).
 * Canaries: each view sits in a guarded buffer; the guards must be untouched.
 */
import { describe, expect, test } from "bun:test";
import { changingField, expectRefused, guarded, hostileScalar, lyingViews } from "@llmem/core/testing";
import fc from "fast-check";
import {
  attentionScores,
  attentionWeightedSum,
  dequantize,
  dequantizeInto,
  dotF16F32,
  dotIq4XsQ8_K,
  dotQ2_KQ8_K,
  dotQ3_KQ8_K,
  dotQ4_0Q8_0,
  dotQ8_0,
  fromBf16,
  fromF16,
  matvec,
  prepareMatrix,
  quantize,
  quantizeInto,
  toBf16,
  toF16,
} from "../src/index.ts";

const N = 64;
const Q8 = (N / 32) * 34;

/** A plain array of `real` elements with own length/byteLength claiming `claimed`. */
function ownSized<T extends Float32Array | Uint8Array | Uint16Array>(v: T, claimed: number): T {
  Object.defineProperty(v, "length", { value: claimed });
  Object.defineProperty(v, "byteLength", { value: claimed * v.BYTES_PER_ELEMENT });
  return v;
}

describe("fast paths refuse views with their own length/byteLength", () => {
  test("quantizeInto / dequantizeInto", () => {
    const src = guarded(Float32Array, N);
    const dst = guarded(Uint8Array, 34);
    expectRefused(() => quantizeInto("q8_0", src.view, ownSized(new Uint8Array(34), Q8)));
    expectRefused(() => quantizeInto("q8_0", ownSized(new Float32Array(32), N), new Uint8Array(Q8)));
    expectRefused(() => dequantizeInto("q8_0", ownSized(new Uint8Array(34), Q8), new Float32Array(N)));
    expectRefused(() => dequantizeInto("q8_0", new Uint8Array(Q8), ownSized(new Float32Array(32), N)));
    quantizeInto("q8_0", src.view.subarray(0, 32), dst.view);
    expect(src.intact() && dst.intact()).toBe(true);
  });

  test("quantized dots", () => {
    const q = quantize("q8_0", new Float32Array(N).fill(1));
    const q4 = quantize("q4_0", new Float32Array(N).fill(1));
    expectRefused(() => dotQ8_0(ownSized(new Uint8Array(34), Q8), q, N));
    expectRefused(() => dotQ8_0(q, ownSized(new Uint8Array(34), Q8), N));
    expectRefused(() => dotQ4_0Q8_0(ownSized(new Uint8Array(18), q4.length), q, N));
    expect(dotQ8_0(q, q, N)).toBeCloseTo(N, 0);
  });

  test("iq4_xs: quantizeInto, dequantizeInto and its q8_K dot", () => {
    const x = new Float32Array(512).fill(1);
    const w = quantize("iq4_xs", x);
    const a = quantize("q8_K", x);
    expectRefused(() => quantizeInto("iq4_xs", x, ownSized(new Uint8Array(136), 272)));
    expectRefused(() => quantizeInto("iq4_xs", ownSized(new Float32Array(256), 512), new Uint8Array(272)));
    expectRefused(() => dequantizeInto("iq4_xs", ownSized(new Uint8Array(136), 272), new Float32Array(512)));
    expectRefused(() => dotIq4XsQ8_K(ownSized(new Uint8Array(136), 272), a, 512));
    expectRefused(() => dotIq4XsQ8_K(w, ownSized(new Uint8Array(292), 584), 512));
    const dst = guarded(Uint8Array, 136);
    quantizeInto("iq4_xs", x.subarray(0, 256), dst.view);
    expect(dst.intact()).toBe(true);
    expect(dotIq4XsQ8_K(w, a, 512)).toBeCloseTo(512, 0);
  });

  test("q2_K: quantizeInto, dequantizeInto and its q8_K dot", () => {
    const x = new Float32Array(512).fill(1);
    const w = quantize("q2_K", x);
    const a = quantize("q8_K", x);
    expectRefused(() => quantizeInto("q2_K", x, ownSized(new Uint8Array(84), 168)));
    expectRefused(() => quantizeInto("q2_K", ownSized(new Float32Array(256), 512), new Uint8Array(168)));
    expectRefused(() => dequantizeInto("q2_K", ownSized(new Uint8Array(84), 168), new Float32Array(512)));
    expectRefused(() => dotQ2_KQ8_K(ownSized(new Uint8Array(84), 168), a, 512));
    expectRefused(() => dotQ2_KQ8_K(w, ownSized(new Uint8Array(292), 584), 512));
    const dst = guarded(Uint8Array, 84);
    quantizeInto("q2_K", x.subarray(0, 256), dst.view);
    expect(dst.intact()).toBe(true);
    expect(dotQ2_KQ8_K(w, a, 512)).toBeCloseTo(512, 0);
  });

  test("q3_K: quantizeInto, dequantizeInto and its q8_K dot", () => {
    const x = new Float32Array(512).fill(1);
    const w = quantize("q3_K", x);
    const a = quantize("q8_K", x);
    expectRefused(() => quantizeInto("q3_K", x, ownSized(new Uint8Array(110), 220)));
    expectRefused(() => quantizeInto("q3_K", ownSized(new Float32Array(256), 512), new Uint8Array(220)));
    expectRefused(() => dequantizeInto("q3_K", ownSized(new Uint8Array(110), 220), new Float32Array(512)));
    expectRefused(() => dotQ3_KQ8_K(ownSized(new Uint8Array(110), 220), a, 512));
    expectRefused(() => dotQ3_KQ8_K(w, ownSized(new Uint8Array(292), 584), 512));
    const dst = guarded(Uint8Array, 110);
    quantizeInto("q3_K", x.subarray(0, 256), dst.view);
    expect(dst.intact()).toBe(true);
    expect(dotQ3_KQ8_K(w, a, 512)).toBeCloseTo(512, 0);
  });

  test("fp16/bf16 conversions and dotF16F32", () => {
    for (const convert of [toF16, toBf16]) {
      expectRefused(() => convert(new Float32Array(N), ownSized(new Uint16Array(2), N)));
      expectRefused(() => convert(ownSized(new Float32Array(2), N), new Uint16Array(N)));
    }
    for (const convert of [fromF16, fromBf16]) {
      expectRefused(() => convert(new Uint16Array(N), ownSized(new Float32Array(2), N)));
      expectRefused(() => convert(ownSized(new Uint16Array(2), N), new Float32Array(N)));
    }
    expectRefused(() => dotF16F32(ownSized(new Uint16Array(2), N), new Float32Array(N), N));
    expectRefused(() => dotF16F32(new Uint16Array(N), ownSized(new Float32Array(2), N), N));
    const d = guarded(Uint16Array, N);
    toF16(new Float32Array(N).fill(1), d.view);
    expect(d.intact()).toBe(true);
  });

  test("every lying variant of the f32 side of quantizeInto is refused", () => {
    for (const [label, v] of lyingViews(Float32Array, 32, N)) {
      const dst = guarded(Uint8Array, Q8);
      expectRefused(() => quantizeInto("q8_0", v as Float32Array, dst.view));
      expect(dst.intact(), label).toBe(true);
    }
  });
});

describe("fields are read once", () => {
  test("matvec: a rows getter that grows after the checks", () => {
    const w = prepareMatrix("f32", new Float32Array(4 * 32).fill(1), 4, 32);
    const y = guarded(Float32Array, 4);
    // honest for the first 3 reads (the checks), then 2^22: the kernel must see 4.
    const lying = changingField(w, "rows", 4, 2 ** 22, 3);
    try {
      matvec(lying, new Float32Array(32).fill(1), y.view);
    } catch (e) {
      expect((e as Error).name).toBe("LlmemError");
    }
    expect(y.intact()).toBe(true);
    expect(Array.from(y.view)).toEqual([32, 32, 32, 32]);
  });

  test("attentionScores / attentionWeightedSum: options that are not an object are an LlmemError", () => {
    const keys = new Uint8Array(2 * 32 * 4);
    const out = guarded(Float32Array, 32);
    for (const bad of [null, undefined, 3, "count"]) {
      expectRefused(() => attentionScores("f32", new Float32Array(32), keys, bad as never, out.view));
      expectRefused(() => attentionWeightedSum("f32", new Float32Array(2), keys, bad as never, out.view));
    }
    expect(out.intact()).toBe(true);
  });

  test("attentionScores / attentionWeightedSum: geometry getters that move after the checks", () => {
    const keys = new Uint8Array(2 * 32 * 4);
    const out = guarded(Float32Array, 2);
    const scores = changingField(
      { count: 2, headDim: 32, offsetBytes: 0, scale: 1 },
      "strideBytes",
      128,
      1 << 24,
    );
    attentionScores("f32", new Float32Array(32), keys, scores as never, out.view);
    expect(out.intact()).toBe(true);
    const sum = guarded(Float32Array, 32);
    const ws = changingField({ headDim: 32, offsetBytes: 0, strideBytes: 128 }, "count", 2, 1 << 20);
    attentionWeightedSum("f32", new Float32Array(2), keys, ws as never, sum.view);
    expect(sum.intact()).toBe(true);
  });
});

test("dequantize checks count against the bytes before it allocates (2^32 was a RangeError)", () => {
  const q = quantize("q8_0", new Float32Array(32));
  expectRefused(() => dequantize("q8_0", q, 2 ** 32));
  expectRefused(() => dequantize("q8_0", q, 1024), undefined, "OUT_OF_BOUNDS");
  expect(dequantize("q8_0", q, 32).length).toBe(32);
});

describe("fuzz (fast-check): hostile counts and lying views", () => {
  test("dots, conversions and dequantize refuse every hostile count with an LlmemError", () => {
    const q = quantize("q8_0", new Float32Array(64).fill(1));
    fc.assert(
      fc.property(hostileScalar, (n) => {
        if (n === 0) return; // -0 is the count 0 (a valid, empty call)
        expectRefused(() => dotQ8_0(q, q, n as number));
        expectRefused(() => dequantize("q8_0", q, n as number));
        // undefined is dotF16F32's default count (x.length), not a hostile one.
        if (n !== undefined)
          expectRefused(() => dotF16F32(new Uint16Array(64), new Float32Array(64), n as number));
      }),
    );
  });

  test("a view lying about any size is refused and nothing past it is touched", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 2, max: 64 }), (realBlocks, factor) => {
        const real = realBlocks * 32;
        for (const [, v] of lyingViews(Float32Array, real, real * factor)) {
          const dst = guarded(Uint8Array, realBlocks * factor * 34);
          expectRefused(() => quantizeInto("q8_0", v as Float32Array, dst.view));
          expect(dst.intact()).toBe(true);
        }
        for (const [, v] of lyingViews(Uint8Array, realBlocks * 34, realBlocks * factor * 34)) {
          const out = guarded(Float32Array, real * factor);
          expectRefused(() => dequantizeInto("q8_0", v as Uint8Array, out.view));
          expect(out.intact()).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });
});
