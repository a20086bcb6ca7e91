import { describe, expect, test } from "bun:test";
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  fromBf16,
  fromF16,
  referenceConvert,
  toBf16,
  toF16,
} from "../src/index.ts";
import { codeOf, eachIsa, noteBackend, rng } from "./helpers.ts";

noteBackend("@llmem/quant-kernels half");

/** Random f32 bit patterns weighted towards the interesting ranges (subnormal fp16, NaNs, near Inf). */
function hardF32(n: number): Float32Array {
  const r = rng(3);
  const u = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const kind = i % 5;
    const sign = r() < 0.5 ? 0x80000000 : 0;
    if (kind === 0) u[i] = (r() * 2 ** 32) >>> 0;
    else if (kind === 1)
      u[i] = sign | (0x33000000 + Math.floor(r() * 0x05800000)); // fp16 subnormal range
    else if (kind === 2)
      u[i] = sign | (0x477fe000 + Math.floor(r() * 0x2000)); // near 65504..65520
    else if (kind === 3)
      u[i] = sign | 0x7f800000 | Math.floor(r() * 0x800000); // Inf and NaNs
    else u[i] = sign | (0x38000000 + Math.floor(r() * 0x0f800000)); // normal fp16 range
    if (kind === 4 && i % 10 === 4) u[i] = (u[i]! & ~0x1fff) | 0x1000; // exact ties
  }
  return new Float32Array(u.buffer);
}

describe("fp16 scalars", () => {
  test("specials and rounding", () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to Inf
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -24)).toBe(1); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie with 0: even
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2); // tie 1.5 units: even
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie to even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(Number.NaN) & 0x7e00).toBe(0x7e00);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.333, 3);
    expect(f16BitsToF32(1)).toBe(2 ** -24);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
  });

  test("f32 → fp16 agrees with Float16Array (an independent IEEE conversion) on non-NaN inputs", () => {
    const x = hardF32(50000);
    const h = new Float16Array(1);
    const hb = new Uint16Array(h.buffer);
    for (const v of x) {
      if (Number.isNaN(v)) continue;
      h[0] = v;
      expect(f32ToF16Bits(v)).toBe(hb[0]!);
    }
  });

  test("every fp16 value round-trips exactly", () => {
    for (let b = 0; b < 65536; b++) {
      const v = f16BitsToF32(b);
      if (Number.isNaN(v)) continue;
      expect(f32ToF16Bits(v)).toBe(b);
    }
  });

  test("bf16", () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie to even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(Number.NaN)))).toBe(true);
  });
});

describe("array conversions", () => {
  const x = hardF32(100003);
  const bits = new Uint16Array(65536).map((_, i) => i);

  test("native paths give the reference's bits on every fp16 and hard f32 input", () => {
    const toRef = referenceConvert.toF16(x);
    const fromRef = new Uint32Array(referenceConvert.fromF16(bits).buffer);
    const bfRef = referenceConvert.toBf16(x);
    const fromBfRef = new Uint32Array(referenceConvert.fromBf16(bits).buffer);
    eachIsa(() => {
      expect(toF16(x)).toEqual(toRef);
      expect(new Uint32Array(fromF16(bits).buffer)).toEqual(fromRef);
      expect(toBf16(x)).toEqual(bfRef);
      expect(new Uint32Array(fromBf16(bits).buffer)).toEqual(fromBfRef);
    });
    // and the public functions (native or TS) agree with the reference too
    expect(toF16(x)).toEqual(toRef);
  });

  test("fp16 NaN payloads are kept (quieted), with their sign", () => {
    const nan = new Float32Array(new Uint32Array([0xffa00000, 0x7f800001, 0x7fc00123]).buffer);
    expect(Array.from(toF16(nan))).toEqual([0xff00, 0x7e00, 0x7e00]);
    expect(Array.from(new Uint32Array(fromF16(new Uint16Array([0x7c01, 0xfe00])).buffer))).toEqual([
      0x7fc02000, 0xffc00000,
    ]);
  });

  test("odd lengths and caller-provided outputs", () => {
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 33]) {
      const src = x.subarray(3, 3 + n);
      const dst = new Uint16Array(n);
      expect(toF16(src, dst)).toBe(dst);
      expect(Array.from(dst)).toEqual(Array.from(referenceConvert.toF16(src)));
      const back = new Float32Array(n);
      expect(fromF16(dst, back)).toBe(back);
    }
  });

  test("bad arguments throw LlmemError", () => {
    expect(codeOf(() => toF16(new Float32Array(4), new Uint16Array(3)))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => fromF16(new Float32Array(4) as unknown as Uint16Array))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => toBf16([1, 2] as unknown as Float32Array))).toBe("INVALID_ARGUMENT");
  });
});
