import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import {
  bf16BitsToF32,
  dequantizeQ8_0,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  quantizeQ8_0,
} from "../src/index.ts";

test("fp16 conversion: specials and rounding", () => {
  expect(f32ToF16Bits(1)).toBe(0x3c00);
  expect(f32ToF16Bits(-0)).toBe(0x8000);
  expect(f32ToF16Bits(Number.POSITIVE_INFINITY)).toBe(0x7c00);
  expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to Inf
  expect(f32ToF16Bits(2 ** -24)).toBe(1); // smallest subnormal
  expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie to even
  expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
  expect(f16BitsToF32(0x3555)).toBeCloseTo(0.333, 3);
});

test("bf16 conversion", () => {
  expect(f32ToBf16Bits(1)).toBe(0x3f80);
  expect(bf16BitsToF32(0x3f80)).toBe(1);
  expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(Number.NaN)))).toBe(true);
});

test("q8_0 round trip and layout", () => {
  const x = new Float32Array(64).map((_, i) => (i - 32) / 8);
  const q = quantizeQ8_0(x);
  expect(q.length).toBe(68);
  // first block: amax = 4, d = 4/127; x[0] = -4 → -127
  expect(new Int8Array(q.buffer)[2]).toBe(-127);
  const y = dequantizeQ8_0(q, 64);
  for (let i = 0; i < 64; i++) expect(Math.abs(y[i]! - x[i]!)).toBeLessThan(0.02);
  expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(LlmemError);
});
