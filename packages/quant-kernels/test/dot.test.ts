import { describe, expect, test } from "bun:test";
import {
  dequantize,
  dotF16F32,
  dotF32,
  dotQ4_0Q8_0,
  dotQ4_1Q8_1,
  dotQ8_0,
  fromF16,
  quantize,
  referenceDot,
  toF16,
} from "../src/index.ts";
import { codeOf, eachIsa, edgeBlocks, nativeTest, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels dot");

/** Σ a·b in f64 over the dequantized values, and Σ|a·b| to bound reordering error. */
function exact(a: Float32Array, b: Float32Array): { sum: number; mag: number } {
  let sum = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    sum += a[i]! * b[i]!;
    mag += Math.abs(a[i]! * b[i]!);
  }
  return { sum, mag };
}

const SIZES = [0, 32, 64, 96, 4096, 32 * 1001];

describe("quantized dot products", () => {
  for (const n of SIZES) {
    test(`n = ${n}: native scalar equals the TS reference bit for bit; SIMD within reordering error`, () => {
      const x = randomF32(n, n + 1, 2);
      const y = randomF32(n, n + 2, 0.5);
      const cases = [
        {
          fn: dotQ8_0,
          ref: referenceDot.dotQ8_0,
          a: quantize("q8_0", x),
          fa: "q8_0",
          b: quantize("q8_0", y),
          fb: "q8_0",
        },
        {
          fn: dotQ4_0Q8_0,
          ref: referenceDot.dotQ4_0Q8_0,
          a: quantize("q4_0", x),
          fa: "q4_0",
          b: quantize("q8_0", y),
          fb: "q8_0",
        },
        {
          fn: dotQ4_1Q8_1,
          ref: referenceDot.dotQ4_1Q8_1,
          a: quantize("q4_1", x),
          fa: "q4_1",
          b: quantize("q8_1", y),
          fb: "q8_1",
        },
      ] as const;
      for (const c of cases) {
        const want = c.ref(c.a, c.b, n);
        const { sum, mag } = exact(dequantize(c.fa, c.a, n), dequantize(c.fb, c.b, n));
        // Q8_1's s is an fp16 of d·Σq: allow its rounding on top of f32 reordering
        const tol = mag * 1e-5 + (c.fa === "q4_1" ? mag * 2e-3 : 0) + 1e-6;
        expect(Math.abs(want - sum)).toBeLessThanOrEqual(tol);
        expect(Math.abs(c.fn(c.a, c.b, n) - sum)).toBeLessThanOrEqual(tol);
        eachIsa((isa) => {
          const got = c.fn(c.a, c.b, n);
          if (isa === "scalar") expect(got).toBe(want);
          else expect(Math.abs(got - sum)).toBeLessThanOrEqual(tol);
        });
      }
    });
  }

  nativeTest("edge blocks (zeros, tiny and huge scales) stay finite where the reference is", () => {
    const x = edgeBlocks().map((v) => (Number.isFinite(v) && Math.abs(v) < 1e4 ? v : 1));
    const n = x.length;
    const a = quantize("q8_0", x);
    const want = referenceDot.dotQ8_0(a, a, n);
    eachIsa(() => expect(Math.abs(dotQ8_0(a, a, n) - want)).toBeLessThanOrEqual(Math.abs(want) * 1e-5));
  });

  test("f16·f32 and f32·f32", () => {
    for (const n of [0, 1, 7, 8, 31, 33, 4097]) {
      const x = randomF32(n, 5);
      const y = randomF32(n, 6);
      const h = toF16(x);
      const { sum, mag } = exact(fromF16(h), y);
      const want = referenceDot.dotF16F32(h, y, n);
      expect(Math.abs(want - sum)).toBeLessThanOrEqual(mag * 1e-5 + 1e-6);
      eachIsa((isa) => {
        const got = dotF16F32(h, y, n);
        if (isa === "scalar") expect(got).toBe(want);
        else expect(Math.abs(got - sum)).toBeLessThanOrEqual(mag * 1e-5 + 1e-6);
        expect(Math.abs(dotF32(x, y, n) - exact(x, y).sum)).toBeLessThanOrEqual(mag * 1e-5 + 1e-6);
      });
    }
  });

  test("hostile lengths are rejected before native code runs", () => {
    const a = quantize("q8_0", randomF32(64));
    const b4 = quantize("q4_0", randomF32(64));
    expect(codeOf(() => dotQ8_0(a, a, 96))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ8_0(a, a.subarray(0, 67), 64))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ8_0(a, a, 33))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotQ8_0(a, a, -32))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => dotQ8_0(a, a, 2 ** 53))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => dotQ8_0(a, a, Number.NaN))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotQ4_0Q8_0(b4, b4, 64))).toBe("OUT_OF_BOUNDS"); // y must be Q8_0-sized
    expect(codeOf(() => dotQ4_1Q8_1(a, a, 64))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ8_0(new Float32Array(17) as unknown as Uint8Array, a, 32))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(codeOf(() => dotF16F32(new Uint16Array(4), new Float32Array(3), 4))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotF16F32(new Uint16Array(4), new Float32Array(4), 5))).toBe("OUT_OF_BOUNDS");
  });
});
