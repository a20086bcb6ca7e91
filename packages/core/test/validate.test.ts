import { describe, expect, test } from "bun:test";
import {
  checkInt,
  checkOneOf,
  checkPowerOfTwo,
  checkRange,
  checkSize,
  isLlmemError,
  PoolExhaustedError,
} from "../src/index.ts";
import { codeOf } from "../src/testing.ts";

describe("validation", () => {
  test("checkInt rejects non-integers with INVALID_ARGUMENT naming the argument", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1.5, "3", null, undefined, 3n]) {
      expect(codeOf(() => checkInt("byteLength", bad, 0, 10))).toBe("INVALID_ARGUMENT");
    }
    expect(() => checkInt("byteLength", 1.5, 0, 10)).toThrow(/byteLength/);
  });
  test("checkInt rejects out-of-range values with the limit in the message", () => {
    expect(codeOf(() => checkInt("n", -1, 0, 10))).toBe("OUT_OF_RANGE");
    expect(() => checkInt("n", 11, 0, 10)).toThrow(/\[0, 10\]/);
    expect(checkInt("n", 10, 0, 10)).toBe(10);
  });
  test("checkSize and checkPowerOfTwo", () => {
    expect(checkSize("s", 0)).toBe(0);
    expect(codeOf(() => checkSize("s", -0.5))).toBe("INVALID_ARGUMENT");
    expect(checkPowerOfTwo("align", 64)).toBe(64);
    expect(codeOf(() => checkPowerOfTwo("align", 48))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => checkPowerOfTwo("align", 0))).toBe("OUT_OF_RANGE");
  });
  test("checkOneOf returns an allowed string and names the argument and the choices otherwise", () => {
    const formats = ["f32", "f16"] as const;
    expect(checkOneOf("format", "f16", formats)).toBe("f16");
    for (const bad of ["q3", "F16", 1, null, undefined, {}]) {
      expect(codeOf(() => checkOneOf("format", bad, formats))).toBe("INVALID_ARGUMENT");
    }
    expect(() => checkOneOf("format", "q3", formats)).toThrow('format must be one of f32, f16, got "q3"');
  });
  test("checkRange", () => {
    expect(() => checkRange("x", 2, 3, 5)).not.toThrow();
    expect(codeOf(() => checkRange("x", 3, 3, 5))).toBe("OUT_OF_BOUNDS");
  });
  test("PoolExhaustedError carries requested and available", () => {
    const e = new PoolExhaustedError("out of blocks", 5, 2);
    expect(isLlmemError(e, "POOL_EXHAUSTED")).toBe(true);
    expect(e.requested).toBe(5);
    expect(e.available).toBe(2);
    expect(e.details).toEqual({ requested: 5, available: 2 });
  });
});
