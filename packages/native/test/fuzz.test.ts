/**
 * Issue 16, fuzzed at the only door to libllmem: every wrapper this package exports, given one
 * hostile argument among valid ones (views of another kind, lying, detached or dressed-up
 * views, DataViews, plain objects, counts that are NaN, ±Infinity, -1, fractions, 2^53, strings,
 * symbols or bigints, unknown formats and dot pairs, forged blocks), throws an LlmemError naming
 * the argument, and every buffer the call was given reads the same afterwards, including the
 * guard bytes after each view: nothing was written, in bounds or out.
 */
import { describe, test } from "bun:test";
import { FORMATS, typedArrayKind } from "@llmem/core";
import {
  anyView,
  fakeView,
  hostileScalar,
  lyingView,
  lyingViews,
  refusesNaming,
  wrongType,
} from "@llmem/core/testing";
import fc from "fast-check";
import {
  allocNative,
  byteView,
  checkedByteLength,
  checkedLength,
  detach,
  dotF32,
  freeNative,
  isNativeBlock,
  native,
  nativeAdd,
  nativeBf16ToF32,
  nativeChain,
  nativeCopy,
  nativeDequantize,
  nativeDot,
  nativeDotF16F32,
  nativeF16ToF32,
  nativeF32ToBf16,
  nativeF32ToF16,
  nativeHash64,
  nativeQuantize,
  nativeRmsnormRows,
  nativeSwiglu,
  viewPtr,
} from "../src/index.ts";

// A failing property prints the error it threw (which check, which state changed), not only the input.
fc.configureGlobal({ includeErrorInReport: true });
const RUNS = 60;
const GUARD = 64;

type Ctor = Float32ArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor;

/** A fresh view of n elements with GUARD bytes of 0xa5 after it, filled with a pattern. */
function guardedView<C extends Ctor>(ctor: C, n: number) {
  const buffer = new ArrayBuffer(n * ctor.BYTES_PER_ELEMENT + GUARD);
  const all = new Uint8Array(buffer);
  for (let i = 0; i < all.length; i++) all[i] = i < n * ctor.BYTES_PER_ELEMENT ? (i * 37 + 11) & 0xff : 0xa5;
  return {
    view: new ctor(buffer, 0, n) as InstanceType<C>,
    bytes: all,
    dataBytes: n * ctor.BYTES_PER_ELEMENT,
  };
}

interface Guarded {
  bytes: Uint8Array;
  dataBytes: number;
}

/** Whether a guarded view still holds its pattern and its guard: nothing wrote to it. */
function untouched(g: Guarded): boolean {
  const b = g.bytes;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== (i < g.dataBytes ? (i * 37 + 11) & 0xff : 0xa5)) return false;
  }
  return true;
}

/** Hostile stand-ins for a view argument of kind `ctor`: every other kind, lies, non-views. */
function badView(ctor: Ctor): fc.Arbitrary<unknown> {
  return fc.oneof(
    anyView.filter((v) => v.constructor !== ctor),
    // Views claiming more than the at most 3 elements they hold (every call here needs 8+):
    // an engine-measured path uses a lying view as what it really is, so it must be short.
    fc
      .record({ real: fc.nat(3), extra: fc.integer({ min: 1, max: 4096 }), which: fc.nat(5) })
      .map(({ real, extra, which }) => lyingViews(ctor, real, real + extra)[which]![1]),
    lyingView.filter((v) => typedArrayKind(v) !== ctor.name),
    fakeView,
    wrongType,
    hostileScalar,
    fc.constant(null).map(() => {
      const d = new ctor(8);
      d.buffer.transfer();
      return d;
    }),
    fc.constant(null).map(() => new DataView(new ArrayBuffer(64))),
  );
}

/** Not a count C may be given: non-integers, negatives, past 2^32, non-numbers. */
const badCount = fc
  .oneof(hostileScalar, wrongType, fc.constantFrom(-1, 2 ** 32, 2 ** 53, Number.NaN))
  .filter((v) => !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32));

interface Slot {
  /** The word the refusal must name. */
  name: RegExp;
  /** The call with the hostile value in this slot; the other arguments valid, guarded views. */
  call(bad: unknown, views: Guarded[]): unknown;
  bad: fc.Arbitrary<unknown>;
}

/** Every slot of every wrapper: the call must refuse its hostile value and write nothing. */
function slots(): Slot[] {
  const f32 = (n: number, views: Guarded[]) => {
    const g = guardedView(Float32Array, n);
    views.push(g);
    return g.view;
  };
  const u16 = (n: number, views: Guarded[]) => {
    const g = guardedView(Uint16Array, n);
    views.push(g);
    return g.view;
  };
  const u8 = (n: number, views: Guarded[]) => {
    const g = guardedView(Uint8Array, n);
    views.push(g);
    return g.view;
  };
  const u32 = (n: number, views: Guarded[]) => {
    const g = guardedView(Uint32Array, n);
    views.push(g);
    return g.view;
  };
  const q8 = FORMATS.q8_0;
  const conversions = [
    ["f32→f16", nativeF32ToF16, f32, u16],
    ["f16→f32", nativeF16ToF32, u16, f32],
    ["f32→bf16", nativeF32ToBf16, f32, u16],
    ["bf16→f32", nativeBf16ToF32, u16, f32],
  ] as const;
  const out: Slot[] = [];
  for (const [, fn, src, dst] of conversions) {
    const call = fn as (s: unknown, d: unknown, n: unknown) => void;
    out.push(
      {
        name: /src/,
        bad: badView(src === f32 ? Float32Array : Uint16Array),
        call: (b, v) => call(b, dst(32, v), 32),
      },
      {
        name: /dst/,
        bad: badView(dst === f32 ? Float32Array : Uint16Array),
        call: (b, v) => call(src(32, v), b, 32),
      },
      {
        name: /\bn\b|count|values|\bx\b|\by\b|\ba\b|src|dst/,
        bad: badCount,
        call: (b, v) => call(src(32, v), dst(32, v), b),
      },
      {
        name: /src|dst|bounds|exceed/,
        bad: fc.integer({ min: 33, max: 2 ** 20 }),
        call: (b, v) => call(src(32, v), dst(32, v), b),
      },
    );
  }
  out.push(
    {
      name: /src/,
      bad: badView(Float32Array),
      call: (b, v) => nativeQuantize(q8, b as Float32Array, u8(34, v), 32),
    },
    {
      name: /dst/,
      bad: badView(Uint8Array),
      call: (b, v) => nativeQuantize(q8, f32(32, v), b as Uint8Array, 32),
    },
    {
      name: /count|values|quantize|src|dst/,
      bad: fc.oneof(badCount, fc.constantFrom(31, 64, 2 ** 20)),
      call: (b, v) => nativeQuantize(q8, f32(32, v), u8(34, v), b as number),
    },
    {
      name: /format/,
      bad: fc.oneof(wrongType, fc.constantFrom({ id: 999, name: "x" }, { id: "q8_0" }, {})),
      call: (b, v) => nativeQuantize(b as never, f32(32, v), u8(34, v), 32),
    },
    {
      name: /bytes/,
      bad: badView(Uint8Array),
      call: (b, v) => nativeDequantize(q8, b as Uint8Array, f32(32, v), 32),
    },
    {
      name: /dst/,
      bad: badView(Float32Array),
      call: (b, v) => nativeDequantize(q8, u8(34, v), b as Float32Array, 32),
    },
    {
      name: /count|values|dequantize|bytes|dst/,
      bad: fc.oneof(badCount, fc.constantFrom(31, 64)),
      call: (b, v) => nativeDequantize(q8, u8(34, v), f32(32, v), b as number),
    },
    {
      name: /\bx\b/,
      bad: badView(Uint8Array),
      call: (b, v) => nativeDot("q8_0·q8_0", b as Uint8Array, u8(34, v), 32),
    },
    {
      name: /\by\b/,
      bad: badView(Uint8Array),
      call: (b, v) => nativeDot("q8_0·q8_0", u8(34, v), b as Uint8Array, 32),
    },
    {
      name: /\bn\b|values|bounds|\bx\b|\by\b|\ba\b|src|dst/,
      bad: fc.oneof(badCount, fc.constantFrom(31, 64)),
      call: (b, v) => nativeDot("q8_0·q8_0", u8(34, v), u8(34, v), b as number),
    },
    {
      name: /pair/,
      bad: fc.oneof(wrongType, fc.constantFrom("q8_0", "q9·q9", "toString", "__proto__")),
      call: (b, v) => nativeDot(b as never, u8(34, v), u8(34, v), 32),
    },
    {
      name: /\bx\b/,
      bad: badView(Uint16Array),
      call: (b, v) => nativeDotF16F32(b as Uint16Array, f32(32, v), 32),
    },
    {
      name: /\by\b/,
      bad: badView(Float32Array),
      call: (b, v) => nativeDotF16F32(u16(32, v), b as Float32Array, 32),
    },
    {
      name: /\bn\b|bounds|\bx\b|\by\b|\ba\b|src|dst/,
      bad: fc.oneof(badCount, fc.constantFrom(33)),
      call: (b, v) => nativeDotF16F32(u16(32, v), f32(32, v), b as number),
    },
    { name: /\ba\b/, bad: badView(Float32Array), call: (b, v) => dotF32(b as Float32Array, f32(16, v), 16) },
    { name: /\bb\b/, bad: badView(Float32Array), call: (b, v) => dotF32(f32(16, v), b as Float32Array, 16) },
    {
      name: /\bn\b|\ba\b|\bx\b|\by\b|\ba\b|src|dst/,
      bad: fc.oneof(badCount, fc.constantFrom(17)).filter((n) => n !== undefined),
      call: (b, v) => dotF32(f32(16, v), f32(16, v), b as number),
    },
    {
      name: /dst/,
      bad: badView(Uint8Array).filter((x) => !ArrayBuffer.isView(x) || x instanceof DataView || isStale(x)),
      call: (b, v) => nativeCopy(b as Uint8Array, u8(16, v), 16),
    },
    {
      name: /src/,
      bad: badView(Uint8Array).filter((x) => !ArrayBuffer.isView(x) || x instanceof DataView || isStale(x)),
      call: (b, v) => nativeCopy(u8(16, v), b as Uint8Array, 16),
    },
    {
      name: /bytes/,
      bad: fc.oneof(badCount, fc.constantFrom(17)),
      call: (b, v) => nativeCopy(u8(16, v), u8(16, v), b as number),
    },
    {
      name: /\bx\b/,
      bad: badView(Float32Array),
      call: (b, v) => nativeAdd(b as Float32Array, f32(16, v), 16),
    },
    {
      name: /\by\b/,
      bad: badView(Float32Array),
      call: (b, v) => nativeAdd(f32(16, v), b as Float32Array, 16),
    },
    {
      name: /\bn\b|bounds|exceed|\bx\b|\by\b|\ba\b|src|dst/,
      bad: fc.oneof(badCount, fc.constantFrom(17)),
      call: (b, v) => nativeAdd(f32(16, v), f32(16, v), b as number),
    },
    {
      name: /style/,
      bad: fc.oneof(wrongType, fc.constantFrom("RUNC", "constructor", 0)),
      call: (b, v) => nativeSwiglu(b as never, f32(16, v), f32(16, v), 16),
    },
    {
      name: /gate/,
      bad: badView(Float32Array),
      call: (b, v) => nativeSwiglu("runc", b as Float32Array, f32(16, v), 16),
    },
    {
      name: /\bn\b|bounds|exceed|\bx\b|\by\b|\ba\b|src|dst/,
      bad: fc.oneof(badCount, fc.constantFrom(17)),
      call: (b, v) => nativeSwiglu("ggml", f32(16, v), f32(16, v), b as number),
    },
    {
      name: /eps/,
      bad: fc.oneof(wrongType, fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, "1e-5", 1n)),
      call: (b, v) => nativeRmsnormRows("runc", f32(16, v), f32(8, v), 2, 8, b as number, f32(16, v)),
    },
    {
      name: /rows|dim|bounds|exceed|\bx\b/,
      bad: fc.oneof(badCount, fc.constantFrom(3)),
      call: (b, v) => nativeRmsnormRows("runc", f32(16, v), f32(8, v), b as number, 8, 1e-5, f32(16, v)),
    },
    {
      name: /weight/,
      bad: badView(Float32Array),
      call: (b, v) => nativeRmsnormRows("ggml", f32(16, v), b as Float32Array, 2, 8, 1e-5, f32(16, v)),
    },
    { name: /tokens/, bad: badView(Uint32Array), call: (b) => nativeHash64(b as Uint32Array, null, 0n) },
    {
      name: /extra/,
      bad: badView(Uint32Array).filter((x) => x !== null),
      call: (b, v) => nativeHash64(u32(8, v), b as Uint32Array, 0n),
    },
    {
      name: /parent/,
      bad: fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(-1n, 1n << 64n))
        .filter((p) => typeof p !== "bigint" || p < 0n || p >= 1n << 64n),
      call: (b, v) => nativeHash64(u32(8, v), null, b as bigint),
    },
    {
      name: /tokens|bounds|exceed/,
      bad: badView(Uint32Array),
      call: (b, v) => nativeChain(b as Uint32Array, 4, 2, null, null, 0n, u32(4, v)),
    },
    {
      name: /out|bounds|exceed/,
      bad: badView(Uint32Array),
      call: (b, v) => nativeChain(u32(8, v), 4, 2, null, null, 0n, b as Uint32Array),
    },
    {
      name: /blockSize|blocks|bounds|exceed|tokens/,
      bad: fc.oneof(badCount, fc.constantFrom(5, 2 ** 31)),
      call: (b, v) => nativeChain(u32(8, v), b as number, 2, null, null, 0n, u32(4, v)),
    },
    {
      name: /blocks|bounds|exceed|tokens|out/,
      bad: fc.oneof(badCount, fc.constantFrom(3, 2 ** 31)),
      call: (b, v) => nativeChain(u32(8, v), 4, b as number, null, null, 0n, u32(4, v)),
    },
    {
      name: /parent/,
      bad: fc
        .oneof(hostileScalar, wrongType, fc.constantFrom(-1n, 1n << 64n))
        .filter((p) => typeof p !== "bigint" || p < 0n || p >= 1n << 64n),
      call: (b, v) => nativeChain(u32(8, v), 4, 2, null, null, b as bigint, u32(4, v)),
    },
  );
  return out;
}

const lengthOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "length")!.get!;
const byteLengthOf = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  "byteLength",
)!.get!;
/** A live, non-empty typed array of any kind whose own sizes (if any) agree with the engine's. */
function honest(v: unknown): boolean {
  if (typedArrayKind(v) === undefined || isStale(v)) return false;
  const t = v as Uint8Array;
  return t.length === lengthOf.call(t) && t.byteLength === byteLengthOf.call(t) && t.byteLength > 0;
}

/** A typed array whose buffer was released. */
function isStale(v: unknown): boolean {
  try {
    return ArrayBuffer.isView(v) && (v.buffer as ArrayBuffer).detached;
  } catch {
    return false;
  }
}

describe.if(native.available)("the native wrappers refuse every hostile argument and write nothing", () => {
  test("one hostile argument per call, guard bytes intact, outputs unchanged", () => {
    const all = slots();
    fc.assert(
      fc.property(
        fc.nat(all.length - 1).chain((i) => all[i]!.bad.map((bad) => ({ i, bad }))),
        ({ i, bad }) => {
          const slot = all[i]!;
          const views: Guarded[] = [];
          // The valid arguments are fresh guarded views holding a known pattern, so "unchanged"
          // is checked against that pattern (they are built inside the call).
          refusesNaming(() => slot.call(bad, views), slot.name);
          if (!views.every(untouched)) throw new Error("a refused call wrote to a view or past it");
        },
      ),
      { numRuns: RUNS * 8 },
    );
  });
});

describe("views and handles: measured by the engine, forged ones refused", () => {
  test("checkedLength / checkedByteLength / byteView / viewPtr refuse hostile views", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          lyingView,
          fakeView,
          wrongType,
          hostileScalar,
          fc.constant(null).map(() => {
            const d = new Float32Array(4);
            d.buffer.transfer();
            return d;
          }),
        ),
        (bad) => {
          refusesNaming(() => checkedLength("v", bad, "Float32Array"), /\bv\b/);
          // (the next three take any kind: an honest view of another kind is fine there)
          if (honest(bad)) return;
          refusesNaming(() => checkedByteLength("v", bad), /\bv\b/);
          refusesNaming(() => byteView(bad as Uint8Array), /view/);
          // viewPtr bounds C by the engine's own length, whatever a view claims: only a
          // non-view or a detached (or empty) one is refused there.
          if (typedArrayKind(bad) === undefined || isStale(bad) || lengthOf.call(bad) === 0) {
            refusesNaming(() => viewPtr("v", bad as Float32Array), /\bv\b/);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("viewPtr refuses offsets and counts outside the view", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ offset: badCount.filter((v) => v !== undefined), count: fc.constant(1) }),
          fc.record({
            offset: fc.constant(0),
            count: fc.oneof(badCount, fc.constant(17)).filter((v) => v !== undefined),
          }),
          fc.record({ offset: fc.integer({ min: 1, max: 16 }), count: fc.constant(16) }),
        ),
        ({ offset, count }) => {
          refusesNaming(() => viewPtr("v", new Float32Array(16), offset as number, count as number), /\bv\b/);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test.if(native.available)(
    "allocNative refuses bad sizes; detach / freeNative refuse forged and edited blocks",
    () => {
      fc.assert(
        // (no valid size: each would be allocated)
        fc.property(
          fc.oneof(
            badCount.filter((n) => !(typeof n === "number" && Number.isInteger(n) && n > 0)),
            fc.constantFrom(0, 2 ** 50),
          ),
          (n) => {
            refusesNaming(() => allocNative(n as number), "byteLength");
          },
        ),
        { numRuns: RUNS },
      );
      fc.assert(
        fc.property(
          fc.oneof(badCount, fc.constantFrom(0, 3, 2 ** 21)).filter((a) => a !== undefined),
          (align) => {
            refusesNaming(() => allocNative(64, align as number), "align");
          },
        ),
        { numRuns: RUNS },
      );
      const real = allocNative(64);
      new Uint8Array(real.buffer).fill(7);
      const forgers: (() => unknown)[] = [
        () => ({ ...real }),
        () => ({ buffer: new ArrayBuffer(64), address: real.address, byteLength: 64, align: 64 }),
        () => Object.create(real),
        () => new Proxy(real, {}),
      ];
      fc.assert(
        fc.property(
          fc.oneof(
            fc.nat(forgers.length - 1).map((i) => forgers[i]!()),
            wrongType,
            hostileScalar,
          ),
          (forged) => {
            const snapshot = () => [isNativeBlock(real), Array.from(new Uint8Array(real.buffer)).join()];
            refusesNaming(() => freeNative(forged as never), /block/, snapshot);
            refusesNaming(() => detach(forged as never), /block/, snapshot);
          },
        ),
        { numRuns: RUNS },
      );
      freeNative(real);
      refusesNaming(() => freeNative(real), /block/);
    },
  );
});
