/**
 * The fast paths' one gap (packages/native/src/views.ts): a Uint8Array wearing Float32Array's
 * prototype whose own `length` agrees with its real element count (so the index probe passes) and
 * whose own `byteLength` claims 4 bytes per element. The fast path's checks all read those
 * properties; what closes the gap is @llmem/native's binding, which checks each operand's engine
 * kind (INVALID_ARGUMENT) and hands C the engine's byte length, so libllmem could not read or
 * write past the 32 real bytes either. With native off the TS path checks the engine's kind.
 */
import { describe, expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import { dotF16F32, fromF16, quantizeInto, toBf16, toF16 } from "../src/index.ts";

const REAL = 32; // bytes the dressed view really has

/** A 32-byte Uint8Array dressed as a Float32Array of 32 floats (128 bytes), inside a larger buffer. */
function dressedF32(): { view: Float32Array; tail: Uint8Array } {
  const buffer = new ArrayBuffer(REAL + 4 * REAL);
  const bytes = new Uint8Array(buffer, 0, REAL);
  Object.setPrototypeOf(bytes, Float32Array.prototype);
  Object.defineProperty(bytes, "length", { value: REAL });
  Object.defineProperty(bytes, "byteLength", { value: 4 * REAL });
  const tail = new Uint8Array(buffer, REAL);
  tail.fill(0x5a);
  return { view: bytes as unknown as Float32Array, tail };
}

// Native on: the binding checks each operand's engine kind before calling C (C would refuse too,
// OUT_OF_BOUNDS, bounded by the engine's byte length). Native off: the TS path's kind check.
const expected = "INVALID_ARGUMENT";

function refusedUntouched(fn: (v: Float32Array) => unknown): void {
  const { view, tail } = dressedF32();
  let caught: unknown;
  try {
    fn(view);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LlmemError);
  expect((caught as LlmemError).code).toBe(expected);
  expect(tail.every((b) => b === 0x5a)).toBe(true);
}

describe("a Uint8Array dressed as a Float32Array with agreeing own length and byteLength", () => {
  test("toF16 / toBf16 source", () => {
    refusedUntouched((v) => toF16(v, new Uint16Array(REAL)));
    refusedUntouched((v) => toBf16(v, new Uint16Array(REAL)));
  });
  test("fromF16 destination: nothing written past its real bytes", () => {
    refusedUntouched((v) => fromF16(new Uint16Array(REAL), v));
  });
  test("dotF16F32 activation", () => {
    refusedUntouched((v) => dotF16F32(new Uint16Array(REAL), v, REAL));
  });
  test("quantizeInto source", () => {
    refusedUntouched((v) => quantizeInto("q8_0", v, new Uint8Array(34)));
  });
});
