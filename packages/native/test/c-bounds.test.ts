/**
 * libllmem checks every buffer again (defence in depth, issue 16): the wrappers of quant.ts
 * trust their caller to have validated the call, so handing them views too small for `n` is
 * exactly the binding bug C's own check is there for. Each call must throw OUT_OF_BOUNDS (C's
 * LLMEM_EBOUNDS) and leave the guard bytes after the view untouched. (Without the C check these
 * calls read or write past the views; test_canary.c checks the same at the C level under ASan.)
 */
import { describe, expect, test } from "bun:test";
import { FORMATS, LlmemError } from "@llmem/core";
import { guarded } from "@llmem/core/testing";
import {
  fastDotQ8_0,
  nativeDequantize,
  nativeDot,
  nativeDotF16F32,
  nativeF16ToF32,
  nativeF32ToF16,
  nativeQuantize,
  quantNative,
} from "../src/index.ts";

function outOfBounds(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LlmemError);
  expect((caught as LlmemError).code).toBe("OUT_OF_BOUNDS");
}

describe.skipIf(!quantNative())("C refuses buffers smaller than the call needs", () => {
  test("dots: x or y one block short", () => {
    const full = new Uint8Array(2 * 34);
    const short = guarded(Uint8Array, 34);
    outOfBounds(() => nativeDot("q8_0·q8_0", short.view, full, 64));
    outOfBounds(() => nativeDot("q8_0·q8_0", full, short.view, 64));
    const k = guarded(Uint8Array, 144);
    outOfBounds(() => nativeDot("q4_K·q8_K", k.view, new Uint8Array(292), 512));
    const y = guarded(Float32Array, 31);
    outOfBounds(() => nativeDotF16F32(new Uint16Array(32), y.view, 32));
    expect(short.intact() && k.intact() && y.intact()).toBe(true);
  });
  test("quantize / dequantize / conversions: nothing written past the destination", () => {
    const dst = guarded(Uint8Array, 33);
    outOfBounds(() => nativeQuantize(FORMATS.q8_0, new Float32Array(32), dst.view, 32));
    expect(dst.intact()).toBe(true);
    expect(dst.view.every((b) => b === 0)).toBe(true);
    const out = guarded(Float32Array, 31);
    outOfBounds(() => nativeDequantize(FORMATS.q8_0, new Uint8Array(34), out.view, 32));
    outOfBounds(() => nativeF16ToF32(new Uint16Array(32), out.view, 32));
    expect(out.intact()).toBe(true);
    const half = guarded(Uint16Array, 15);
    outOfBounds(() => nativeF32ToF16(new Float32Array(16), half.view, 16));
    expect(half.intact()).toBe(true);
  });
  test("exact sizes still run", () => {
    const x = new Float32Array(32).fill(1);
    const q = new Uint8Array(34);
    nativeQuantize(FORMATS.q8_0, x, q, 32);
    expect(nativeDot("q8_0·q8_0", q, q, 32)).toBeCloseTo(32, 1);
    expect(fastDotQ8_0(q, q, 32)).toBe(nativeDot("q8_0·q8_0", q, q, 32));
  });
});
