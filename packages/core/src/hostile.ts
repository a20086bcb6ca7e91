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
  const own = new ctor(real);
  Object.defineProperty(own, "length", { value: claimed });
  Object.defineProperty(own, "byteLength", { value: claimed * ctor.BYTES_PER_ELEMENT });
  const ownBytes = new ctor(real);
  Object.defineProperty(ownBytes, "byteLength", { value: claimed * ctor.BYTES_PER_ELEMENT });
  // A class expression: `extends ctor` with a getter the engine's own fields do not follow.
  const Sub = class extends (ctor as Float32ArrayConstructor) {
    override get length(): number {
      return claimed;
    }
    override get byteLength(): number {
      return claimed * ctor.BYTES_PER_ELEMENT;
    }
  };
  const dressed = new Uint8Array(Math.max(1, real));
  Object.setPrototypeOf(dressed, ctor.prototype);
  // A DataView (no typed-array internals) in the prototype, owning every size and index a check
  // could read: only an engine check (an intrinsic getter, Atomics) tells it apart.
  const dataView = new DataView(new ArrayBuffer(Math.max(1, real) * ctor.BYTES_PER_ELEMENT));
  Object.setPrototypeOf(dataView, ctor.prototype);
  Object.defineProperty(dataView, "length", { value: claimed });
  Object.defineProperty(dataView, "byteLength", { value: claimed * ctor.BYTES_PER_ELEMENT });
  for (let i = 0; i < Math.min(claimed * ctor.BYTES_PER_ELEMENT, 1 << 16); i++) {
    Object.defineProperty(dataView, i, { value: 1 });
  }
  const detached = new ctor(claimed);
  detached.buffer.transfer();
  Object.defineProperty(detached, "length", { value: claimed });
  return [
    ["own length and byteLength", own],
    ["own byteLength", ownBytes],
    ["subclass overriding length", new Sub(real)],
    ["a Uint8Array wearing the prototype", dressed],
    ["a DataView wearing the prototype, owning sizes and indices", dataView],
    ["detached", detached],
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
