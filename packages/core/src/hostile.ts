/**
 * Hostile values for every package's hostile-input tests (issue 16), re-exported by
 * `@llmem/core/testing`: views that lie about their size, getters that change between reads,
 * numbers no check should let through, guarded views to catch stray writes, and one assertion
 * that a refused call threw an LlmemError and changed nothing observable.
 */
import { expect } from "bun:test";
import fc from "fast-check";
import { LlmemError, type LlmemErrorCode } from "./errors.ts";

type ViewCtor =
  | Float32ArrayConstructor
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor;

/**
 * Views of `real` elements of `ctor` that claim `claimed` elements (or its bytes) some other
 * way, each labelled: an own `length`/`byteLength`, a subclass overriding both, a byte array
 * wearing `ctor`'s prototype, and a view of a detached buffer (claiming its old length).
 */
export function lyingViews(ctor: ViewCtor, real: number, claimed: number): [string, ArrayBufferView][] {
  return lyingViewMakers(ctor, real, claimed).map(([label, make]) => [label, make()]);
}

/** lyingViews, each built only when asked for (a fuzz run builds the one it picked). */
function lyingViewMakers(ctor: ViewCtor, real: number, claimed: number): [string, () => ArrayBufferView][] {
  const bpe = ctor.BYTES_PER_ELEMENT;
  return [
    [
      "own length and byteLength",
      () => {
        const own = new ctor(real);
        Object.defineProperty(own, "length", { value: claimed });
        Object.defineProperty(own, "byteLength", { value: claimed * bpe });
        return own;
      },
    ],
    [
      "own byteLength",
      () => {
        const ownBytes = new ctor(real);
        Object.defineProperty(ownBytes, "byteLength", { value: claimed * bpe });
        return ownBytes;
      },
    ],
    [
      "subclass overriding length",
      () => {
        // A class expression: `extends ctor` with a getter the engine's own fields do not follow.
        const Sub = class extends (ctor as Float32ArrayConstructor) {
          override get length(): number {
            return claimed;
          }
          override get byteLength(): number {
            return claimed * bpe;
          }
        };
        return new Sub(real);
      },
    ],
    [
      "a Uint8Array wearing the prototype",
      () => {
        const dressed = new Uint8Array(Math.max(1, real));
        Object.setPrototypeOf(dressed, ctor.prototype);
        return dressed;
      },
    ],
    [
      "a DataView wearing the prototype, owning sizes and indices",
      () => {
        // A DataView (no typed-array internals) in the prototype, owning every size and index a
        // check could read: only an engine check (an intrinsic getter, Atomics) tells it apart.
        const dataView = new DataView(new ArrayBuffer(Math.max(1, real) * bpe));
        Object.setPrototypeOf(dataView, ctor.prototype);
        Object.defineProperty(dataView, "length", { value: claimed });
        Object.defineProperty(dataView, "byteLength", { value: claimed * bpe });
        for (let i = 0; i < Math.min(claimed * bpe, 1 << 16); i++) {
          Object.defineProperty(dataView, i, { value: 1 });
        }
        return dataView;
      },
    ],
    [
      "detached",
      () => {
        // real elements, not `claimed`: a huge claim must not cost a huge allocation per sample
        const detached = new ctor(Math.max(1, real));
        detached.buffer.transfer();
        Object.defineProperty(detached, "length", { value: claimed });
        return detached;
      },
    ],
  ];
}

/** A view of `n` elements followed by guard bytes; `intact()` is false once any guard changed. */
export function guarded<C extends ViewCtor>(ctor: C, n: number, guardBytes = 64) {
  const bytes = n * ctor.BYTES_PER_ELEMENT;
  const buffer = new ArrayBuffer(bytes + guardBytes);
  const guard = new Uint8Array(buffer, bytes);
  guard.fill(0xa5);
  return {
    view: new ctor(buffer, 0, n) as InstanceType<C>,
    intact: (): boolean => guard.every((b) => b === 0xa5),
  };
}

/**
 * An object whose `key` reads `first` for the first `honest` reads and `then` afterwards: a
 * value checked once and read again later would see `then`.
 */
export function changingField<T extends object>(
  base: T,
  key: string,
  first: unknown,
  then: unknown,
  honest = 1,
): T {
  let reads = 0;
  const copy = { ...base };
  Object.defineProperty(copy, key, {
    enumerable: true,
    get: () => (reads++ < honest ? first : then),
  });
  return copy;
}

/** Numbers (and not-numbers) no size, count or index check may accept. */
export const BAD_SIZES: readonly unknown[] = Object.freeze([
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -1,
  1.5,
  2 ** 53,
  "5",
  5n,
  null,
  undefined,
  {},
]);

/** fast-check arbitrary over hostile scalars: NaN, ±Infinity, -0, 2^53, fractions, non-numbers. */
export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...BAD_SIZES, -0, 2 ** 32 + 1, 3 * 2 ** 31),
  fc.double({ noInteger: true }),
  fc.integer({ max: -1 }),
);

/**
 * Asserts `fn` throws an LlmemError (any code when `code` is omitted) and that `snapshot()`
 * reads the same before and after: a refused call changes nothing observable.
 */
export function expectRefused(
  fn: () => unknown,
  snapshot: () => unknown = () => null,
  code?: LlmemErrorCode,
): void {
  const before = structuredCloneSafe(snapshot());
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof LlmemError)) {
    throw new Error(`expected an LlmemError, got ${caught === undefined ? "no error" : String(caught)}`);
  }
  if (code !== undefined) expect(caught.code).toBe(code);
  expect(structuredCloneSafe(snapshot())).toEqual(before);
}

function structuredCloneSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x)) ?? "null");
}

const VIEW_CTORS = [
  Float32Array,
  Float64Array,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
] as const;

/** A typed array of any element type and 0..64 elements (the wrong type wherever a specific one is due). */
export const anyView: fc.Arbitrary<ArrayBufferView> = fc
  .record({ at: fc.nat(VIEW_CTORS.length - 1), n: fc.nat(64) })
  .map(({ at, n }) => new VIEW_CTORS[at]!(n));

/**
 * Views that lie about their size (see lyingViews) for every element type here, claiming
 * 1..2^20 elements more than they hold.
 */
export const lyingView: fc.Arbitrary<ArrayBufferView> = fc
  .record({
    ctor: fc.constantFrom(Float32Array, Uint8Array, Uint16Array, Uint32Array),
    real: fc.nat(16),
    extra: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2 ** 20 })),
    which: fc.nat(5),
  })
  .map(({ ctor, real, extra, which }) => lyingViewMakers(ctor, real, real + extra)[which]![1]());

/** A plain object posing as a view: an own `length`/`byteLength` (or getters) over nothing. */
export const fakeView: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 30 }).map((n) => ({ length: n, byteLength: n * 4 })),
  fc.integer({ min: 1, max: 2 ** 30 }).map((n) => Object.assign([1, 2, 3], { byteLength: n })),
  fc
    .integer({ min: 1, max: 2 ** 30 })
    .map((n) => changingField({ length: 4, byteLength: 16 }, "length", 4, n)),
);

/** Arrays with holes, lying lengths, or elements no list of numbers may hold. */
export const hostileArray: fc.Arbitrary<unknown> = fc.oneof(
  fc.sparseArray(fc.nat(1000), { maxLength: 16, noTrailingHole: false }).filter((a) => {
    for (let i = 0; i < a.length; i++) if (!(i in a)) return true;
    return false;
  }),
  fc.array(hostileScalar, { minLength: 1, maxLength: 4 }),
  fc.constantFrom(-1, 1.5, 2 ** 40, Number.NaN).map((length) => ({ length })),
);

/** Not numbers, not objects a caller meant: every type JS has. */
export const wrongType: fc.Arbitrary<unknown> = fc.constantFrom(
  null,
  undefined,
  "",
  "16",
  Symbol("hostile"),
  0n,
  16n,
  true,
  () => 16,
  new Map(),
  new ArrayBuffer(16),
);

/**
 * Every hostile value above: scalars, wrong types, views that lie or have the wrong element
 * type, fake views, hostile arrays. Filter out what is valid for the argument under test.
 */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileScalar,
  wrongType,
  anyView,
  lyingView,
  fakeView,
  hostileArray,
);

/**
 * The fuzz suites' assertion: `fn` throws an LlmemError whose message names `argument` (a word
 * or a pattern), and `snapshot()` reads the same before and after. NaN, -0, bigints and
 * undefined survive the comparison (JSON would fold them).
 */
export function refusesNaming(
  fn: () => unknown,
  argument: string | RegExp,
  snapshot: () => unknown = () => null,
): LlmemError {
  const before = stable(snapshot());
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof LlmemError)) {
    const got =
      caught === undefined
        ? "no error"
        : `${safeString(caught)}${caught instanceof Error ? `\n${caught.stack}` : ""}`;
    throw new Error(`expected an LlmemError naming ${String(argument)}, got ${got}`);
  }
  const named =
    typeof argument === "string" ? caught.message.includes(argument) : argument.test(caught.message);
  if (!named)
    throw new Error(`LlmemError ${caught.code} "${caught.message}" does not name ${String(argument)}`);
  const after = stable(snapshot());
  if (after !== before)
    throw new Error(`state changed by a refused call:\n before ${before}\n after  ${after}`);
  return caught;
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return typeof v;
  }
}

/** A canonical string of a snapshot: typed arrays by content, NaN/-0/bigint/undefined kept. */
function stable(v: unknown): string {
  return JSON.stringify(v, function (this: unknown, _k, x: unknown) {
    if (typeof x === "number") return Number.isNaN(x) ? "NaN" : Object.is(x, -0) ? "-0" : x;
    if (typeof x === "bigint") return `${x}n`;
    if (x === undefined) return "undefined";
    if (ArrayBuffer.isView(x)) {
      if ((x.buffer as ArrayBuffer).detached) return `${x.constructor.name}(detached)`;
      return `${x.constructor.name}[${Array.from(new Uint8Array(x.buffer, x.byteOffset, x.byteLength))}]`;
    }
    if (x instanceof Map) return [...x.entries()];
    if (x instanceof Set) return [...x.values()];
    return x;
  });
}

/**
 * The fuzz suites' common property: per run a fresh world (the structures under test and a
 * `snapshot` of their observable state), one generated [argument, call] against it, and
 * `refusesNaming` on that call.
 */
export function assertCallsRefused<W extends { snapshot: () => unknown }>(
  world: () => W,
  calls: (w: W) => fc.Arbitrary<readonly [string | RegExp, () => unknown]>,
  numRuns: number,
): void {
  fc.assert(
    fc.property(
      fc.constant(null).chain(() => {
        const w = world();
        return calls(w).map((c) => ({ w, c }));
      }),
      ({ w, c: [name, call] }) => {
        refusesNaming(call, name, w.snapshot);
      },
    ),
    { numRuns },
  );
}
