/**
 * Issue 16, fuzzed across quant-kernels' public entry points with @llmem/core/testing's shared
 * hostile values: each call gets one hostile argument among valid, guarded ones (a fresh view
 * holding a known pattern with guard bytes after it) and must throw an LlmemError naming the
 * argument, leaving every view and its guard exactly as it was. Runs with libllmem on and off
 * (the TS paths check the same things).
 */
import { test } from "bun:test";
import { anyView, fakeView, hostileScalar, lyingViews, refusesNaming, wrongType } from "@llmem/core/testing";
import fc from "fast-check";
import {
  dequantize,
  dequantizeInto,
  dotF16F32,
  dotF32,
  dotQ4_0Q8_0,
  dotQ8_0,
  fromBf16,
  fromF16,
  quantizedBytes,
  quantizeInto,
  toBf16,
  toF16,
} from "../src/index.ts";

// A failing property prints the error it threw (which check, which state changed), not only the input.
fc.configureGlobal({ includeErrorInReport: true });
const GUARD = 32;
type Ctor = Float32ArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor;
interface Guarded {
  bytes: Uint8Array;
  dataBytes: number;
}

function guardedView<C extends Ctor>(ctor: C, n: number, views: Guarded[]): InstanceType<C> {
  const dataBytes = n * ctor.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(dataBytes + GUARD);
  // Bytes that are finite floats and halves (a NaN pattern would be refused for another reason).
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = i < dataBytes ? (i % 4 === 3 ? 0x3c : (i * 7) & 0x3f) : 0xa5;
  views.push({ bytes, dataBytes });
  return new ctor(bytes.buffer, 0, n) as InstanceType<C>;
}

function untouched(g: Guarded): boolean {
  for (let i = 0; i < g.bytes.length; i++) {
    const want = i < g.dataBytes ? (i % 4 === 3 ? 0x3c : (i * 7) & 0x3f) : 0xa5;
    if (g.bytes[i] !== want) return false;
  }
  return true;
}

/** Stand-ins for a view of kind `ctor` holding at least 8 elements: other kinds, short lying views, non-views. */
function badView(ctor: Ctor): fc.Arbitrary<unknown> {
  return fc.oneof(
    anyView.filter((v) => v.constructor !== ctor),
    fc
      .record({ real: fc.nat(3), extra: fc.integer({ min: 1, max: 4096 }), which: fc.nat(5) })
      .map(({ real, extra, which }) => lyingViews(ctor, real, real + extra)[which]![1]),
    fakeView,
    wrongType.filter((v) => v !== undefined),
    fc.constant(null).map(() => {
      const d = new ctor(64);
      d.buffer.transfer();
      return d;
    }),
  );
}
const badCount = fc
  .oneof(hostileScalar, wrongType, fc.constantFrom(-1, 2 ** 32, 2 ** 53))
  .filter((v) => !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32));
const badFormat = fc.oneof(wrongType, fc.constantFrom("q9_0", "Q8_0x", "constructor", "__proto__", "f32x"));

interface Slot {
  name: RegExp;
  bad: fc.Arbitrary<unknown>;
  call(bad: unknown, v: Guarded[]): unknown;
}

const Q8 = quantizedBytes("q8_0", 32);
const slots: Slot[] = [
  {
    name: /format/,
    bad: badFormat,
    call: (b, v) =>
      quantizeInto(b as never, guardedView(Float32Array, 32, v), guardedView(Uint8Array, Q8, v)),
  },
  {
    name: /src/,
    bad: badView(Float32Array),
    call: (b, v) => quantizeInto("q8_0", b as Float32Array, guardedView(Uint8Array, Q8, v)),
  },
  {
    name: /dst/,
    bad: badView(Uint8Array),
    call: (b, v) => quantizeInto("q8_0", guardedView(Float32Array, 32, v), b as Uint8Array),
  },
  {
    name: /format/,
    bad: badFormat,
    call: (b, v) =>
      dequantizeInto(b as never, guardedView(Uint8Array, Q8, v), guardedView(Float32Array, 32, v)),
  },
  {
    name: /bytes/,
    bad: badView(Uint8Array),
    call: (b, v) => dequantizeInto("q8_0", b as Uint8Array, guardedView(Float32Array, 32, v)),
  },
  {
    name: /dst/,
    bad: badView(Float32Array),
    call: (b, v) => dequantizeInto("q8_0", guardedView(Uint8Array, Q8, v), b as Float32Array),
  },
  {
    name: /count|bytes/,
    bad: fc.oneof(badCount, fc.constantFrom(31, 64)),
    call: (b, v) => dequantize("q8_0", guardedView(Uint8Array, Q8, v), b as number),
  },
  {
    name: /src/,
    bad: badView(Float32Array),
    call: (b, v) => toF16(b as Float32Array, guardedView(Uint16Array, 32, v)),
  },
  {
    name: /dst/,
    bad: badView(Uint16Array),
    call: (b, v) => toF16(guardedView(Float32Array, 32, v), b as Uint16Array),
  },
  {
    name: /src/,
    bad: badView(Uint16Array),
    call: (b, v) => fromF16(b as Uint16Array, guardedView(Float32Array, 32, v)),
  },
  {
    name: /dst/,
    bad: badView(Float32Array),
    call: (b, v) => fromF16(guardedView(Uint16Array, 32, v), b as Float32Array),
  },
  {
    name: /src/,
    bad: badView(Float32Array),
    call: (b, v) => toBf16(b as Float32Array, guardedView(Uint16Array, 32, v)),
  },
  {
    name: /dst/,
    bad: badView(Float32Array),
    call: (b, v) => fromBf16(guardedView(Uint16Array, 32, v), b as Float32Array),
  },
  {
    name: /\bx\b/,
    bad: badView(Uint8Array),
    call: (b, v) => dotQ8_0(b as Uint8Array, guardedView(Uint8Array, Q8, v), 32),
  },
  {
    name: /\by\b/,
    bad: badView(Uint8Array),
    call: (b, v) => dotQ4_0Q8_0(guardedView(Uint8Array, 18, v), b as Uint8Array, 32),
  },
  {
    name: /\bn\b|\bx\b|\by\b/,
    bad: fc.oneof(badCount, fc.constantFrom(31, 64)),
    call: (b, v) => dotQ8_0(guardedView(Uint8Array, Q8, v), guardedView(Uint8Array, Q8, v), b as number),
  },
  {
    name: /\bx\b/,
    bad: badView(Uint16Array),
    call: (b, v) => dotF16F32(b as Uint16Array, guardedView(Float32Array, 32, v), 32),
  },
  {
    name: /\bn\b|\bx\b|\by\b/,
    bad: fc.oneof(badCount, fc.constantFrom(33)).filter((n) => n !== undefined), // (undefined: the default)
    call: (b, v) => dotF16F32(guardedView(Uint16Array, 32, v), guardedView(Float32Array, 32, v), b as number),
  },
  {
    name: /\ba\b/,
    bad: badView(Float32Array),
    call: (b, v) => dotF32(b as Float32Array, guardedView(Float32Array, 16, v), 16),
  },
  {
    name: /format|count/,
    bad: fc.oneof(
      badFormat.map((f) => [f, 32] as const),
      badCount
        .filter((c) => !(typeof c === "number" && Number.isSafeInteger(c) && c >= 0 && c % 32 === 0))
        .map((c) => ["q8_0", c] as const),
      fc.constant(["q8_0", 31] as const),
    ),
    call: (b) => quantizedBytes((b as [never, number])[0], (b as [never, number])[1]),
  },
];

test("one hostile argument per call: an LlmemError naming it, every view and guard unchanged", () => {
  fc.assert(
    fc.property(
      fc.nat(slots.length - 1).chain((i) => slots[i]!.bad.map((bad) => ({ i, bad }))),
      ({ i, bad }) => {
        const views: Guarded[] = [];
        refusesNaming(() => slots[i]!.call(bad, views), slots[i]!.name);
        if (!views.every(untouched)) throw new Error("a refused call wrote to a view or past it");
      },
    ),
    { numRuns: 600 },
  );
});
