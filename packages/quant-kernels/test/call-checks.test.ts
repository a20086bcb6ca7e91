/**
 * The argument checks of quantizeInto/dequantizeInto: the fast path for plain arrays and the
 * out-of-line checked path must refuse the same inputs, with the same codes, leaving every
 * array exactly as it was, and C must never see a length larger than the memory behind a view,
 * whatever the arrays claim about themselves.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  attentionScores,
  attentionWeightedSum,
  dequantizeInto,
  dequantizeIntoMetal,
  dotF16F32,
  dotQ4_0Q8_0,
  dotQ4_1Q8_1,
  dotQ8_0,
  fromBf16,
  fromF16,
  matvec,
  prepareMatrix,
  type QuantFormat,
  quantize,
  quantizedBytes,
  quantizeInto,
  reference,
  referenceDot,
  toBf16,
  toF16,
} from "../src/index.ts";
import { codeOf, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels call checks");
const FORMATS: QuantFormat[] = ["q8_0", "q4_0", "q4_1", "q8_1"];

function detached<T extends ArrayBufferView>(v: T): T {
  structuredClone(v.buffer, { transfer: [v.buffer as ArrayBuffer] });
  return v;
}

/** Bit patterns, any NaN counted as one (a TS Float32Array store canonicalizes NaN payloads). */
const bitsOf = (a: Float32Array) =>
  Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (u) =>
    (u & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : u,
  );

/** `fn`'s error code, and whether every array in `watched` kept its bytes. */
function refusal(fn: () => unknown, ...watched: ArrayBufferView[]): [string | undefined, boolean] {
  const before = watched.map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice());
  const code = codeOf(fn);
  const same = watched.every((v, i) =>
    new Uint8Array(v.buffer, v.byteOffset, v.byteLength).every((b, j) => b === before[i]![j]),
  );
  return [code, same];
}

/** Every refusal, run cold and again once the hot functions are JIT-compiled. */
function refusals() {
  const x = randomF32(64, 3);
  const q = quantize("q8_0", x);
  const out = new Float32Array(64).fill(5);
  const dst = new Uint8Array(q.length).fill(0xaa);
  const cases: [string, () => unknown, ArrayBufferView[], string][] = [
    ["unknown format", () => dequantizeInto("q7_0" as QuantFormat, q, out), [out], "INVALID_ARGUMENT"],
    [
      "format from Object.prototype",
      () => dequantizeInto("toString" as QuantFormat, q, out),
      [out],
      "INVALID_ARGUMENT",
    ],
    ["__proto__ format", () => quantizeInto("__proto__" as QuantFormat, x, dst), [dst], "INVALID_ARGUMENT"],
    [
      "String object format",
      () => quantizeInto(new String("q8_0") as never, x, dst),
      [dst],
      "INVALID_ARGUMENT",
    ],
    ["numeric format", () => dequantizeInto(3 as never, q, out), [out], "INVALID_ARGUMENT"],
    [
      "Int8Array bytes",
      () => dequantizeInto("q8_0", new Int8Array(q.buffer) as never, out),
      [out],
      "INVALID_ARGUMENT",
    ],
    [
      "Uint8ClampedArray dst",
      () => quantizeInto("q8_0", x, new Uint8ClampedArray(dst.length) as never),
      [x],
      "INVALID_ARGUMENT",
    ],
    [
      "Float64Array dst",
      () => dequantizeInto("q8_0", q, new Float64Array(64) as never),
      [q],
      "INVALID_ARGUMENT",
    ],
    [
      "Int32Array src",
      () => quantizeInto("q8_0", new Int32Array(64) as never, dst),
      [dst],
      "INVALID_ARGUMENT",
    ],
    ["plain array dst", () => dequantizeInto("q8_0", q, Array.from(out) as never), [q], "INVALID_ARGUMENT"],
    [
      "DataView bytes",
      () => dequantizeInto("q8_0", new DataView(q.buffer) as never, out),
      [out],
      "INVALID_ARGUMENT",
    ],
    ["null src", () => quantizeInto("q8_0", null as never, dst), [dst], "INVALID_ARGUMENT"],
    ["detached bytes", () => dequantizeInto("q8_0", detached(q.slice()), out), [out], "STALE_HANDLE"],
    ["detached dst", () => dequantizeInto("q8_0", q, detached(new Float32Array(64))), [q], "STALE_HANDLE"],
    ["detached src", () => quantizeInto("q8_0", detached(x.slice()), dst), [dst], "STALE_HANDLE"],
    ["detached quantize dst", () => quantizeInto("q8_0", x, detached(dst.slice())), [x], "STALE_HANDLE"],
    ["short bytes", () => dequantizeInto("q8_0", q.subarray(0, q.length - 1), out), [out], "OUT_OF_BOUNDS"],
    ["short quantize dst", () => quantizeInto("q8_0", x, dst.subarray(1)), [dst], "OUT_OF_BOUNDS"],
    ["dst not whole blocks", () => dequantizeInto("q8_0", q, out.subarray(0, 63)), [out], "INVALID_ARGUMENT"],
    ["src not whole blocks", () => quantizeInto("q8_0", x.subarray(1), dst), [dst], "INVALID_ARGUMENT"],
  ];
  return cases;
}

describe("refusals leave every array as it was", () => {
  test("on the first calls (interpreter) and after 20,000 good calls (optimizing JIT)", () => {
    for (const round of ["cold", "hot"]) {
      if (round === "hot") {
        const x = randomF32(128, 9);
        const q = new Uint8Array(quantizedBytes("q4_0", 128));
        const y = new Float32Array(128);
        for (let i = 0; i < 20_000; i++) {
          quantizeInto("q4_0", x, q);
          dequantizeInto("q4_0", q, y);
        }
      }
      for (const [what, fn, watched, code] of refusals()) {
        const [got, same] = refusal(fn, ...watched);
        expect({ round, what, got, same }).toEqual({ round, what, got: code, same: true });
      }
    }
  });

  test("an empty call is fine, an empty call on a detached view is not", () => {
    expect(codeOf(() => dequantizeInto("q8_0", new Uint8Array(0), new Float32Array(0)))).toBeUndefined();
    expect(codeOf(() => quantizeInto("q4_1", new Float32Array(0), new Uint8Array(0)))).toBeUndefined();
    expect(codeOf(() => dequantizeInto("q8_0", detached(new Uint8Array(0)), new Float32Array(0)))).toBe(
      "STALE_HANDLE",
    );
  });
});

describe("arrays that lie about their length", () => {
  // Each view sits inside a larger buffer filled with a sentinel: a write past the view shows.
  const SENTINEL = 0x5a;
  function guarded<T extends Float32Array | Uint8Array>(
    ctor: new (b: ArrayBuffer, off: number, n: number) => T,
    n: number,
  ): { view: T; untouched: () => boolean } {
    const bytes = n * (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    const buf = new ArrayBuffer(bytes + 256);
    const all = new Uint8Array(buf).fill(SENTINEL);
    const view = new ctor(buf, 128, n);
    return {
      view,
      untouched: () =>
        all.subarray(0, 128).every((b) => b === SENTINEL) &&
        all.subarray(128 + bytes).every((b) => b === SENTINEL),
    };
  }

  // Issue 16: a view claiming a size the engine does not give it is refused (INVALID_ARGUMENT),
  // not measured and used; either way C never sees more than the engine's bytes.
  test("a subclass overriding length is refused, whatever its getter claims", () => {
    class LongBytes extends Uint8Array {
      override get length() {
        return 2 ** 30;
      }
    }
    const q = quantize("q8_0", randomF32(32, 5));
    const bytes = new LongBytes(q.length);
    bytes.set(q);
    const out = new Float32Array(4096).fill(5);
    expect(codeOf(() => dequantizeInto("q8_0", bytes, out))).toBe("INVALID_ARGUMENT");
    expect(out.every((v) => v === 5)).toBe(true);

    class LongF32 extends Float32Array {
      override get length() {
        return 4096;
      }
    }
    const { view, untouched } = guarded(LongF32 as unknown as typeof Float32Array, 32);
    const big = quantize("q8_0", randomF32(4096, 6));
    expect(codeOf(() => dequantizeInto("q8_0", big, view))).toBe("INVALID_ARGUMENT");
    expect(untouched()).toBe(true);
    expect(new Uint8Array(view.buffer, 128, 128).every((b) => b === SENTINEL)).toBe(true); // nothing written
  });

  test("an own length property is refused and cannot widen what C writes", () => {
    const { view, untouched } = guarded(Float32Array, 32);
    Object.defineProperty(view, "length", { value: 4096 });
    expect(codeOf(() => dequantizeInto("q4_0", quantize("q4_0", randomF32(4096, 7)), view))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(untouched()).toBe(true);
    const dst = guarded(Uint8Array, 34);
    Object.defineProperty(dst.view, "length", { value: 34 * 128 });
    expect(codeOf(() => quantizeInto("q8_0", randomF32(4096, 8), dst.view))).toBe("INVALID_ARGUMENT");
    expect(dst.untouched()).toBe(true);
  });

  test("a Uint8Array dressed as a Float32Array is refused", () => {
    const { view, untouched } = guarded(Uint8Array, 128);
    Object.setPrototypeOf(view, Float32Array.prototype);
    const q = quantize("q8_0", randomF32(128, 9));
    expect(codeOf(() => dequantizeInto("q8_0", q, view as unknown as Float32Array))).toBe("INVALID_ARGUMENT");
    expect(
      codeOf(() => quantizeInto("q8_0", view as unknown as Float32Array, new Uint8Array(q.length))),
    ).toBe("INVALID_ARGUMENT");
    expect(untouched()).toBe(true);
  });

  test("an honest subclass and a view into a larger buffer work like a plain array", () => {
    class Tensor extends Float32Array {}
    const x = randomF32(96, 10);
    const plain = new Float32Array(96);
    const sub = new Tensor(96);
    const q = quantize("q4_1", x);
    dequantizeInto("q4_1", q, plain);
    dequantizeInto("q4_1", q, sub);
    expect(Array.from(sub)).toEqual(Array.from(plain));
    const g = guarded(Float32Array, 96);
    dequantizeInto("q4_1", q, g.view);
    expect(Array.from(g.view)).toEqual(Array.from(plain));
    expect(g.untouched()).toBe(true);
  });
});

describe("dot products and fp16/bf16 conversions take the same care", () => {
  const x = quantize("q4_0", randomF32(64, 11));
  const y = quantize("q8_0", randomF32(64, 12));
  const h = toF16(randomF32(64, 13));
  const f = randomF32(64, 14);

  test("refusals, cold and after the JIT has warmed up", () => {
    const out16 = new Uint16Array(64).fill(9);
    const out32 = new Float32Array(64).fill(9);
    const cases: [string, () => unknown, ArrayBufferView[], string][] = [
      ["short y", () => dotQ4_0Q8_0(x, y.subarray(1), 64), [], "OUT_OF_BOUNDS"],
      ["y sized for q4_0", () => dotQ4_0Q8_0(x, x, 64), [], "OUT_OF_BOUNDS"],
      ["n not whole blocks", () => dotQ8_0(y, y, 48), [], "INVALID_ARGUMENT"],
      ["n as a string", () => dotQ8_0(y, y, "64" as never), [], "INVALID_ARGUMENT"],
      ["n negative", () => dotQ8_0(y, y, -32), [], "OUT_OF_RANGE"],
      ["n infinite", () => dotQ8_0(y, y, Number.POSITIVE_INFINITY), [], "INVALID_ARGUMENT"],
      ["n beyond 2^53", () => dotQ8_0(y, y, 2 ** 60), [], "OUT_OF_RANGE"],
      ["Int8Array x", () => dotQ8_0(new Int8Array(y.buffer) as never, y, 64), [], "INVALID_ARGUMENT"],
      ["detached x", () => dotQ4_1Q8_1(detached(new Uint8Array(1000)), y, 32), [], "STALE_HANDLE"],
      ["f16 x too short", () => dotF16F32(h.subarray(1), f, 64), [], "OUT_OF_BOUNDS"],
      ["f16 n fractional", () => dotF16F32(h, f, 2.5), [], "INVALID_ARGUMENT"],
      ["f16 wrong kind", () => dotF16F32(new Int16Array(64) as never, f, 64), [], "INVALID_ARGUMENT"],
      ["toF16 dst one short", () => toF16(f, out16.subarray(1)), [out16], "OUT_OF_BOUNDS"],
      ["toBf16 dst of the wrong kind", () => toBf16(f, new Int16Array(64) as never), [f], "INVALID_ARGUMENT"],
      ["fromF16 src detached", () => fromF16(detached(h.slice()), out32), [out32], "STALE_HANDLE"],
      ["fromBf16 dst detached", () => fromBf16(h, detached(new Float32Array(64))), [h], "STALE_HANDLE"],
      ["fromF16 f32 src", () => fromF16(f as never, out32), [out32], "INVALID_ARGUMENT"],
    ];
    for (const round of ["cold", "hot"]) {
      if (round === "hot") {
        for (let i = 0; i < 20_000; i++) {
          dotQ4_0Q8_0(x, y, 64);
          dotF16F32(h, f, 64);
          toF16(f, out16);
          fromF16(h, out32);
        }
        out16.fill(9);
        out32.fill(9);
      }
      for (const [what, fn, watched, code] of cases) {
        const [got, same] = refusal(fn, ...watched);
        expect({ round, what, got, same }).toEqual({ round, what, got: code, same: true });
      }
    }
  });

  test("a subclass overriding length cannot make C read past its memory", () => {
    class Long extends Uint8Array {
      override get length() {
        return 2 ** 30;
      }
    }
    const short = new Long(34);
    short.set(y.subarray(0, 34));
    expect(codeOf(() => dotQ8_0(short, y, 64))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotQ8_0(short, y, 32))).toBe("INVALID_ARGUMENT");
    class LongF32 extends Float32Array {
      override get length() {
        return 4096;
      }
    }
    const small = new LongF32(32);
    expect(codeOf(() => toF16(small, new Uint16Array(4096)))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotF16F32(toF16(randomF32(4096, 1)), small, 4096))).toBe("INVALID_ARGUMENT");
    const asF32 = Object.setPrototypeOf(new Uint8Array(256), Float32Array.prototype) as Float32Array;
    expect(codeOf(() => toF16(asF32, new Uint16Array(256)))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotF16F32(new Uint16Array(256), asF32, 256))).toBe("INVALID_ARGUMENT");
  });

  test("views into larger buffers and honest subclasses give the reference results", () => {
    class Bytes extends Uint8Array {}
    const buf = new ArrayBuffer(y.length + 10);
    const yAt = new Bytes(buf, 10, y.length);
    yAt.set(y);
    expect(dotQ4_0Q8_0(x, yAt, 64)).toBe(dotQ4_0Q8_0(x, y, 64));
    expect(dotQ8_0(yAt, y, 64)).toBeCloseTo(referenceDot.dotQ8_0(y, y, 64), 3);
    const dst = new Uint16Array(new ArrayBuffer(200), 36, 64);
    expect(Array.from(toF16(f, dst))).toEqual(Array.from(toF16(f)));
  });
});

describe("matvec, attention and Metal measure arrays the engine's way too", () => {
  class LongF32 extends Float32Array {
    override get length() {
      return 4096;
    }
  }
  class BigBytes extends Uint8Array {
    override get byteLength() {
      return 2 ** 20;
    }
    override get length() {
      return 2 ** 20;
    }
  }

  test("matvec: x, y and w.data cannot claim more than they hold", () => {
    const rows = 8;
    const cols = 64;
    const w = prepareMatrix("q8_0", randomF32(rows * cols, 15), rows, cols);
    const x = randomF32(cols, 16);
    const y = new Float32Array(rows);
    class Claims extends Float32Array {
      constructor(
        n: number,
        readonly claimed: number,
      ) {
        super(n);
      }
      override get length() {
        return this.claimed;
      }
    }
    const shortY = new Claims(1, rows);
    expect(codeOf(() => matvec(w, x, shortY))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => matvec(w, new Claims(8, cols), y))).toBe("INVALID_ARGUMENT");
    const shortData = new BigBytes(34);
    expect(codeOf(() => matvec({ ...w, data: shortData }, x, y))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => matvec({ ...w, data: detached(w.data.slice()) }, x, y))).toBe("STALE_HANDLE");
    expect(codeOf(() => matvec(w, x, detached(new Float32Array(rows))))).toBe("STALE_HANDLE");
    // An honest subclass works like a plain array.
    class Vec extends Float32Array {}
    const want = new Float32Array(rows);
    matvec(w, x, want);
    const got = new Vec(rows);
    matvec(w, Vec.from(x), got);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  test("attention: keys, values, query, weights and out cannot claim more than they hold", () => {
    const keys = quantize("q8_0", randomF32(4 * 32, 17));
    const layout = { count: 4, headDim: 32, offsetBytes: 0, strideBytes: 34 };
    const query = randomF32(32, 18);
    const out = new Float32Array(4);
    const bigKeys = new BigBytes(34);
    expect(codeOf(() => attentionScores("q8_0", query, bigKeys, { ...layout, scale: 1 }, out))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(codeOf(() => attentionScores("q8_0", new LongF32(1), keys, { ...layout, scale: 1 }, out))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(codeOf(() => attentionScores("q8_0", query, keys, { ...layout, scale: 1 }, new LongF32(1)))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(
      codeOf(() => attentionWeightedSum("q8_0", new LongF32(1), keys, layout, new Float32Array(32))),
    ).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => attentionWeightedSum("q8_0", out, keys, layout, new LongF32(1)))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(
      codeOf(() =>
        attentionScores("q8_0", query, new DataView(keys.buffer) as never, { ...layout, scale: 1 }, out),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      codeOf(() => attentionScores("q8_0", query, detached(keys.slice()), { ...layout, scale: 1 }, out)),
    ).toBe("STALE_HANDLE");
    // A keys array dressed as another kind is still measured in bytes.
    const f32Keys = Object.setPrototypeOf(new Uint8Array(34), Float32Array.prototype) as Float32Array;
    expect(
      codeOf(() => attentionScores("q8_0", query, f32Keys, { ...layout, count: 2, scale: 1 }, out)),
    ).toBe("OUT_OF_BOUNDS");
  });

  test("dequantizeIntoMetal refuses lying arrays before it asks for a GPU", () => {
    expect(codeOf(() => dequantizeIntoMetal("q8_0", new BigBytes(34), new Float32Array(64)))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(
      codeOf(() => dequantizeIntoMetal("q8_0", new Uint8Array(68), detached(new Float32Array(64)))),
    ).toBe("STALE_HANDLE");
  });
});

describe("property: any arguments either give the reference result inside the views or change nothing", () => {
  test("random formats, lengths, offsets and kinds", () => {
    const kinds = ["plain", "subclass", "int8", "detached"] as const;
    class Bytes extends Uint8Array {}
    fc.assert(
      fc.property(
        fc.constantFrom(...FORMATS, "q7_0"),
        fc.integer({ min: 0, max: 5 }), // blocks in dst
        fc.integer({ min: -1, max: 1 }), // values off a whole block (-1, 0, +1)
        fc.integer({ min: -40, max: 40 }), // bytes short (<0) or spare (>0)
        fc.integer({ min: 0, max: 7 }), // byte offset of the views in their buffers
        fc.constantFrom(...kinds),
        (format, blocks, off, slack, at, kind) => {
          const count = Math.max(0, blocks * 32 + off);
          const known = FORMATS.includes(format as QuantFormat);
          const need = known ? Math.ceil(count / 32) * quantizedBytes(format as QuantFormat, 32) : 64;
          const nBytes = Math.max(0, need + slack);
          const srcBuf = new ArrayBuffer(nBytes + 16);
          new Uint8Array(srcBuf).forEach((_, i, a) => {
            a[i] = (i * 37 + 11) & 0xff;
          });
          let bytes: Uint8Array =
            kind === "subclass" ? new Bytes(srcBuf, at, nBytes) : new Uint8Array(srcBuf, at, nBytes);
          if (kind === "int8") bytes = new Int8Array(srcBuf, at, nBytes) as unknown as Uint8Array;
          const dstBuf = new ArrayBuffer(count * 4 + 64);
          new Uint8Array(dstBuf).fill(0x77);
          const dst = new Float32Array(dstBuf, at * 4, count);
          if (kind === "detached") detached(bytes);
          const before = new Uint8Array(dstBuf).slice();
          const code = codeOf(() => dequantizeInto(format as QuantFormat, bytes, dst));
          const expected =
            !known || kind === "int8"
              ? "INVALID_ARGUMENT"
              : kind === "detached"
                ? "STALE_HANDLE"
                : count % 32 !== 0
                  ? "INVALID_ARGUMENT"
                  : nBytes < need
                    ? "OUT_OF_BOUNDS"
                    : undefined;
          expect(code).toBe(expected);
          const after = new Uint8Array(dstBuf);
          if (code !== undefined) {
            expect(after).toEqual(before);
            return;
          }
          const want = new Float32Array(count);
          reference.dequantizeInto(format as QuantFormat, new Uint8Array(srcBuf, at, nBytes), want);
          expect(bitsOf(new Float32Array(dstBuf, at * 4, count))).toEqual(bitsOf(want));
          expect(after.subarray(0, at * 4).every((b) => b === 0x77)).toBe(true);
          expect(after.subarray(at * 4 + count * 4).every((b) => b === 0x77)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
