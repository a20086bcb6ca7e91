/** Issue 16, classes 4 and 7 in core: the check helpers and the format table refuse hostile input. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  bytesFor,
  checkInt,
  checkPowerOfTwo,
  checkRange,
  checkSize,
  DTYPES,
  FORMAT_LIST,
  FORMATS,
} from "../src/index.ts";
import { BAD_SIZES, expectRefused, hostileScalar } from "../src/testing.ts";

describe("check helpers refuse bounds that would accept anything", () => {
  test("a NaN or fractional bound is refused, not compared (every comparison with NaN is false)", () => {
    expectRefused(() => checkInt("x", 5, 0, Number.NaN), undefined, "INVALID_ARGUMENT");
    expectRefused(() => checkInt("x", 5, Number.NaN, 10), undefined, "INVALID_ARGUMENT");
    expectRefused(() => checkSize("x", 5, Number.NaN), undefined, "INVALID_ARGUMENT");
    expectRefused(() => checkInt("x", 5, 0, 10.5), undefined, "INVALID_ARGUMENT");
    expectRefused(() => checkRange("x", 0, 5, Number.NaN));
    expectRefused(() => checkRange("x", 0, 1, 1.5));
    // ±Infinity stays a valid bound ("no limit").
    expect(checkInt("x", 5, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)).toBe(5);
  });

  test("checkPowerOfTwo is exact beyond 32 bits (3·2^31 is not a power of two)", () => {
    expectRefused(() => checkPowerOfTwo("x", 3 * 2 ** 31, 2 ** 40), undefined, "INVALID_ARGUMENT");
    expect(checkPowerOfTwo("x", 2 ** 39, 2 ** 40)).toBe(2 ** 39);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), (v) => {
        const isPow2 = 2 ** Math.floor(Math.log2(v)) === v && Number.isInteger(Math.log2(v));
        try {
          checkPowerOfTwo("x", v, 2 ** 40);
          return isPow2;
        } catch {
          return !isPow2;
        }
      }),
    );
  });

  test("hostile scalars are refused as sizes (max 2^32) with an LlmemError", () => {
    fc.assert(
      fc.property(hostileScalar, (v) => {
        // -0 is a valid size (it is 0); everything else the arbitrary makes is not.
        if (v !== 0) expectRefused(() => checkSize("n", v, 2 ** 32));
      }),
    );
  });
});

describe("the format table", () => {
  test("is frozen, deep (a writable blockBytes would let quantize write past dst)", () => {
    for (const row of FORMAT_LIST) expect(Object.isFrozen(row)).toBe(true);
    expect(Object.isFrozen(FORMATS)).toBe(true);
    expect(Object.isFrozen(FORMATS.q8_0)).toBe(true);
    expect(() => {
      (DTYPES.q8_0 as { blockBytes: number }).blockBytes = 1;
    }).toThrow(TypeError);
    expect(FORMATS.q8_0.blockBytes).toBe(34);
  });

  test("bytesFor refuses unknown formats and counts that are not whole blocks", () => {
    expectRefused(() => bytesFor("zz" as never, 32), undefined, "INVALID_ARGUMENT");
    expectRefused(() => bytesFor("q8_0", 33), undefined, "INVALID_ARGUMENT");
    expectRefused(() => bytesFor("toString" as never, 32), undefined, "INVALID_ARGUMENT");
    for (const bad of BAD_SIZES) expectRefused(() => bytesFor("q8_0", bad as number));
    expect(bytesFor("q8_0", 64)).toBe(68);
    expect(bytesFor("f32", 3)).toBe(12);
  });
});

test("fuzz finds: an error message never String()s the hostile value (that threw a TypeError)", async () => {
  const { describeValue } = await import("../src/index.ts");
  const { refusesNaming } = await import("../src/testing.ts");
  const detached = new Float32Array(2);
  detached.buffer.transfer();
  const trap = {
    toString(): string {
      throw new Error("user code ran while the error was built");
    },
  };
  for (const v of [
    detached,
    Object.create(Float32Array.prototype),
    Object.create(Float32Array),
    trap,
    Symbol("f"),
  ]) {
    refusesNaming(() => bytesFor(v as never, 32), "format");
    expect(typeof describeValue(v)).toBe("string");
  }
});
