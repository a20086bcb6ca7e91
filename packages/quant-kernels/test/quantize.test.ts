import { describe, expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import fc from "fast-check";
import {
  blockBytes,
  dequantize,
  dequantizeInto,
  dequantizeQ8_0,
  f16BitsToF32,
  type QuantFormat,
  quantize,
  quantizedBytes,
  quantizeInto,
  quantizeQ8_0,
  reference,
} from "../src/index.ts";
import { codeOf, eachIsa, edgeBlocks, nativeTest, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels quantize");
const FORMATS: QuantFormat[] = ["q8_0", "q4_0", "q4_1", "q8_1"];

function refBytes(format: QuantFormat, x: Float32Array): Uint8Array {
  const out = new Uint8Array(quantizedBytes(format, x.length));
  reference.quantizeInto(format, x, out);
  return out;
}

function refValues(format: QuantFormat, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  reference.dequantizeInto(format, bytes, out);
  return out;
}

/** Bit-equal, except that any NaN matches any NaN (a TS Float32Array store canonicalizes NaN payloads). */
const bitsOf = (a: Float32Array) =>
  Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (u) =>
    (u & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : u,
  );
const sameBits = (a: Float32Array, b: Float32Array) => expect(bitsOf(a)).toEqual(bitsOf(b));

describe("byte layouts (known answers from GGML's reference rules)", () => {
  test("q8_0: d = amax/127 as fp16, qs = roundf(x/d)", () => {
    const x = new Float32Array(32).map((_, j) => (j - 16) / 4); // amax 4
    const q = quantize("q8_0", x);
    expect(q.length).toBe(34);
    expect(q[0]! | (q[1]! << 8)).toBe(0x2808); // fp16(4/127) = 0.0315
    const qs = new Int8Array(q.buffer, 2, 32);
    expect(qs[0]).toBe(-127);
    expect(qs[16]).toBe(0);
    expect(qs[17]).toBe(8); // 0.25 * 31.75 = 7.9375 → 8
  });
  test("q8_0 rounds .5 ties away from zero (roundf), not to even", () => {
    const x = new Float32Array(32).map((_, j) => (j === 0 ? 127 : j === 1 ? 2.5 : j === 2 ? -2.5 : 0.5));
    const qs = new Int8Array(quantize("q8_0", x).buffer, 2, 32);
    expect([qs[0], qs[1], qs[2], qs[3]]).toEqual([127, 3, -3, 1]);
  });
  test("q4_0: d = max/-8 keeps the sign of the largest magnitude; nibble j | j+16", () => {
    const x = new Float32Array(32).map((_, j) => (j === 0 ? -8 : j === 16 ? 7 : 0));
    const q = quantize("q4_0", x);
    expect(q.length).toBe(18);
    expect(f16BitsToF32(q[0]! | (q[1]! << 8))).toBe(1); // d = -8 / -8
    expect(q[2]).toBe(0 | (15 << 4)); // x0 = -8 → 0; x16 = 7 → 15
    expect(q[3]).toBe(8 | (8 << 4)); // zeros → 8
    expect(Array.from(dequantize("q4_0", q, 32).subarray(0, 2))).toEqual([-8, 0]);
  });
  test("q4_1: d = (max-min)/15, m = min, nibble = (x-min)/d + 0.5 truncated", () => {
    const x = new Float32Array(32).map((_, j) => (j < 16 ? j : 15 - (j - 16)));
    const q = quantize("q4_1", x);
    expect(q.length).toBe(20);
    expect(f16BitsToF32(q[0]! | (q[1]! << 8))).toBe(1);
    expect(f16BitsToF32(q[2]! | (q[3]! << 8))).toBe(0);
    expect(q[4]).toBe(0 | (15 << 4));
    expect(dequantize("q4_1", q, 32)).toEqual(x);
  });
  test("q8_1: s = d · Σqs", () => {
    const x = new Float32Array(32).fill(1);
    const q = quantize("q8_1", x);
    expect(q.length).toBe(36);
    expect(f16BitsToF32(q[2]! | (q[3]! << 8))).toBeCloseTo(32, 1);
  });
  test("the first-API names still work", () => {
    const x = randomF32(64);
    expect(quantizeQ8_0(x)).toEqual(quantize("q8_0", x));
    expect(dequantizeQ8_0(quantizeQ8_0(x), 64)).toEqual(dequantize("q8_0", quantize("q8_0", x), 64));
  });
});

describe("every implementation writes identical bytes", () => {
  const inputs: [string, Float32Array][] = [
    ["edge blocks", edgeBlocks()],
    ["random", randomF32(32 * 4099, 11, 3)],
    ["random tiny", randomF32(32 * 64, 12, 1e-5)],
    ["random huge", randomF32(32 * 64, 13, 1e6)],
  ];
  for (const format of FORMATS) {
    for (const [name, x] of inputs) {
      test(`${format}, ${name}`, () => {
        const want = refBytes(format, x);
        const wantValues = refValues(format, want, x.length);
        // public path (native or TS)
        expect(quantize(format, x)).toEqual(want);
        sameBits(dequantize(format, want, x.length), wantValues);
        eachIsa(() => {
          expect(quantize(format, x)).toEqual(want);
          sameBits(dequantize(format, want, x.length), wantValues);
        });
      });
    }
    nativeTest(`${format}, dequantize arbitrary bytes (hostile scales: NaN, Inf, subnormal)`, () => {
      const bytes = new Uint8Array(blockBytes(format) * 512).map((_, i) => (i * 2654435761) >>> 24);
      const want = refValues(format, bytes, 512 * 32);
      eachIsa(() => sameBits(dequantize(format, bytes, 512 * 32), want));
    });
  }

  nativeTest("property: native equals the reference on arbitrary finite blocks", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FORMATS),
        fc.integer({ min: 1, max: 6 }).chain((nb) =>
          fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
            minLength: nb * 32,
            maxLength: nb * 32,
          }),
        ),
        (format, values) => {
          const x = new Float32Array(values);
          const want = refBytes(format, x);
          eachIsa(() => expect(quantize(format, x)).toEqual(want));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("accuracy", () => {
  test("property: round-trip error is within half a step of each block", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<QuantFormat>("q8_0", "q4_0", "q4_1", "q8_1"),
        fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 32, maxLength: 32 }),
        (format, values) => {
          const x = new Float32Array(values);
          const y = dequantize(format, quantize(format, x), 32);
          const amax = Math.max(...values.map(Math.abs));
          const range = Math.max(...values) - Math.min(...values);
          // step of the grid, plus fp16 rounding of the scale (relative 2^-11 of the largest value)
          const step = format === "q4_0" ? amax / 8 : format === "q4_1" ? range / 15 : amax / 127;
          // Q4_0 reaches -8·d but only +7·d: the side opposite the largest value clips by up to a step.
          const bound = format === "q4_0" ? step : step * 0.5;
          // fp16 keeps the scale to 2^-11 relative, or 2^-25 absolute once it is subnormal (× up to 127 steps)
          const slack =
            amax * 2 ** -10 +
            127 * 2 ** -25 +
            (format === "q4_1" ? Math.abs(Math.min(...values)) * 2 ** -10 : 0);
          for (let i = 0; i < 32; i++)
            expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(bound + slack + step * 0.01);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("bad input", () => {
  test("lengths that are not whole blocks are an error, for every format", () => {
    for (const format of FORMATS) {
      for (const n of [1, 31, 33, 63]) {
        expect(codeOf(() => quantize(format, new Float32Array(n)))).toBe("INVALID_ARGUMENT");
        expect(codeOf(() => dequantize(format, new Uint8Array(1000), n))).toBe("INVALID_ARGUMENT");
        expect(codeOf(() => quantizedBytes(format, n))).toBe("INVALID_ARGUMENT");
      }
    }
  });
  test("short outputs and inputs are rejected before anything is written", () => {
    const x = randomF32(64);
    const dst = new Uint8Array(67).fill(0xaa);
    expect(codeOf(() => quantizeInto("q8_0", x, dst))).toBe("OUT_OF_BOUNDS");
    expect(dst.every((b) => b === 0xaa)).toBe(true);
    const out = new Float32Array(64).fill(5);
    expect(codeOf(() => dequantizeInto("q4_0", new Uint8Array(35), out))).toBe("OUT_OF_BOUNDS");
    expect(out.every((v) => v === 5)).toBe(true);
    expect(codeOf(() => dequantize("q8_0", new Uint8Array(33), 32))).toBe("OUT_OF_BOUNDS");
  });
  test("hostile arguments", () => {
    expect(codeOf(() => quantize("q7_0" as QuantFormat, new Float32Array(32)))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => quantize("q8_0", new Float64Array(32) as unknown as Float32Array))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(codeOf(() => dequantize("q8_0", new Uint8Array(34), -32))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => dequantize("q8_0", new Uint8Array(34), 2 ** 60))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => dequantize("q8_0", new Uint8Array(34), 32.5))).toBe("INVALID_ARGUMENT");
    expect(
      codeOf(() => dequantizeInto("q8_0", new Int8Array(34) as unknown as Uint8Array, new Float32Array(32))),
    ).toBe("INVALID_ARGUMENT");
    const buf = new Uint8Array(34);
    structuredClone(buf.buffer, { transfer: [buf.buffer] }); // detach
    expectLlmemError(() => dequantize("q8_0", buf, 32), "STALE_HANDLE", "bytes", "detached");
  });
  test("empty input is fine", () => {
    expect(quantize("q4_1", new Float32Array(0)).length).toBe(0);
    expect(dequantize("q8_0", new Uint8Array(0), 0).length).toBe(0);
  });
  test("a larger dst keeps its tail", () => {
    const dst = new Uint8Array(40).fill(7);
    quantizeInto("q8_0", randomF32(32), dst);
    expect(Array.from(dst.subarray(34))).toEqual([7, 7, 7, 7, 7, 7]);
  });
});
