/**
 * Typed-array arguments as the engine sees them, for every binding: `viewPtr` bounds pointers
 * by `engineLength`, and hot wrappers (quant-kernels) use a fast test for the plain arrays
 * callers almost always pass, with a slow, exact inspection for everything else.
 *
 * Why not `instanceof` and `.length`: both can be made to lie. A subclass can override the
 * `length` getter and `Object.setPrototypeOf` can dress a Uint8Array as a Float32Array, and
 * either would hand C a count larger than the memory behind the pointer. The fast test
 * (`ArrayBuffer.isView` plus the exact prototype) excludes subclasses and non-views at no
 * measurable cost; callers then bound C by `byteLength`, which a dressed-up array cannot fake
 * through its prototype, and require `byteLength === length * 4` of the f32 side, which catches
 * both a dressed-up array and an own `length` property. Anything that fails the fast test is
 * measured through the built-in %TypedArray% getters, which read the engine's own fields
 * whatever the object claims (~3.5 ns each under JSC: too slow for the hot path, fine for the
 * rare case).
 *
 * Index probes close the own-property gap at the cost of one load: `v[k] !== undefined` is true
 * exactly when k < the engine's length (a typed array's integer keys never reach an own
 * accessor or the prototype), so the fast paths also probe the last element C will touch. An
 * own `length`/`byteLength` on a plain instance then cannot claim room that is not there
 * (refusing such properties with `Object.hasOwn` measured ~2 ns per view, a third of a dot's
 * budget; the probe is below noise). Not caught by the fast tests themselves: a Uint8Array given
 * Float32Array's prototype AND own length/byteLength agreeing with it (the probe counts its
 * bytes as elements). libllmem catches it: the fast paths hand C `engineByteLength` of each view
 * as its capacity, and C refuses a call reaching past it. Callers that pass views to C without a
 * fast path use `typedPtr`, which reads the engine's kind.
 */
import { isDetachedView, LlmemError, typedArrayKind } from "@llmem/core";

export { isDetachedView, typedArrayKind };

const TYPED_ARRAY_PROTO = Object.getPrototypeOf(Uint8Array.prototype) as object;
const intrinsicGetter = (owner: object, key: PropertyKey) =>
  Object.getOwnPropertyDescriptor(owner, key)!.get! as (this: unknown) => unknown;
const lengthGetter = intrinsicGetter(TYPED_ARRAY_PROTO, "length");
const bufferGetter = intrinsicGetter(TYPED_ARRAY_PROTO, "buffer");
const byteOffsetGetter = intrinsicGetter(TYPED_ARRAY_PROTO, "byteOffset");
const byteLengthGetter = intrinsicGetter(TYPED_ARRAY_PROTO, "byteLength");

const F32_PROTO = Float32Array.prototype;
const U8_PROTO = Uint8Array.prototype;
const U16_PROTO = Uint16Array.prototype;

/** A Float32Array that is not a subclass; its `byteLength` is the engine's. */
export function isPlainF32(v: unknown): v is Float32Array {
  return ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === F32_PROTO;
}

/** A Uint8Array that is not a subclass; its `byteLength` is the engine's. */
export function isPlainBytes(v: unknown): v is Uint8Array {
  return ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === U8_PROTO;
}

/** A Uint16Array (fp16/bf16 bits) that is not a subclass; its `byteLength` is the engine's. */
export function isPlainU16(v: unknown): v is Uint16Array {
  return ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === U16_PROTO;
}

const hasOwn = Object.hasOwn;
/** Captured at load: a later `Atomics.load = …` cannot reach the checks below. */
const atomicsLoad = Atomics.load;

/**
 * The hot wrappers' test that a Float32Array holds n floats (n > 0), ~4 ns: the exact prototype
 * and no own `byteLength` leave `v.byteLength` to the built-in %TypedArray% getter, the engine's
 * count (which throws for a DataView dressed in the prototype: then false). False sends the caller
 * to its exact path (`typedPtr`), which refuses or measures everything else.
 */
export function plainF32Holds(v: unknown, n: number): boolean {
  if (!(ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === F32_PROTO && !hasOwn(v, "byteLength")))
    return false;
  try {
    return (v as Float32Array).byteLength >= 4 * n;
  } catch {
    return false;
  }
}

/**
 * Whether a Uint8Array (by prototype) holds `bytes` (> 0) bytes as the engine measures them:
 * `Atomics.load` of the last one throws for anything but an integer typed array long enough (a
 * DataView or float array in the prototype, a detached buffer), whatever size properties claim.
 */
export function bytesHold(v: unknown, bytes: number): boolean {
  if (!(ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === U8_PROTO)) return false;
  try {
    atomicsLoad(v as Uint8Array, bytes - 1);
    return true;
  } catch {
    return false;
  }
}

/** log2 of the element size of each typed-array kind, by the engine's kind name. */
const KIND_SHIFT: Readonly<Record<string, number | undefined>> = Object.assign(Object.create(null), {
  Int8Array: 0,
  Uint8Array: 0,
  Uint8ClampedArray: 0,
  Int16Array: 1,
  Uint16Array: 1,
  Float16Array: 1,
  Int32Array: 2,
  Uint32Array: 2,
  Float32Array: 2,
  Float64Array: 3,
  BigInt64Array: 3,
  BigUint64Array: 3,
});

// A sentinel no argument can be (as dotF32's): nothing proven yet.
const NOTHING_PROVEN: unique symbol = Symbol("nothing proven");

/**
 * The last view passed in one argument position whose kind the engine confirmed (the intrinsic
 * kind getter, ~10 ns; an object's kind never changes, whatever its prototype or own properties
 * become). While the same view comes back, as the KV rows, the scores and the output do call
 * after call, an index probe proves its bytes: `v[i] !== undefined` is answered by the engine's
 * own length (0 once detached, less once shrunk), never by an own property, so probing the
 * element that holds the last byte C reaches proves every byte before it, ~1 ns where the
 * prototype / own-property / getter test costs ~4 a view. Keeps that one view alive until another
 * comes, as dotF32's cache does.
 */
export class ProvenView {
  #view: unknown = NOTHING_PROVEN;
  #shift = 0;
  #kind: string | undefined = undefined;

  /** Whether v is a typed array (of `kind` when given) holding `bytes` (1..2^32-1) bytes. */
  holds(v: unknown, bytes: number, kind?: TypedArrayKind): boolean {
    if (v !== this.#view && !this.#remember(v)) return false;
    if ((kind !== undefined && kind !== this.#kind) || !(bytes >>> 0 === bytes && bytes > 0)) return false;
    // The element of the last byte C reaches: the engine answers for it.
    return (v as Uint8Array)[(bytes - 1) >>> this.#shift] !== undefined;
  }

  /** Out of line (a new view): the engine's kind, remembered when v is a typed array. */
  #remember(v: unknown): boolean {
    const kind = typedArrayKind(v);
    const shift = kind === undefined ? undefined : KIND_SHIFT[kind];
    if (shift === undefined) return false;
    this.#view = v;
    this.#shift = shift;
    this.#kind = kind;
    return true;
  }
}

export type TypedArrayKind = "Float32Array" | "Uint8Array" | "Uint16Array" | "Uint32Array";

/**
 * The element count of `v`, which must be a live `kind` typed array (subclasses and arrays
 * from other realms included), read from the engine rather than from `v.length`.
 */
export function checkedLength(name: string, v: unknown, kind: TypedArrayKind): number {
  const actual = typedArrayKind(v);
  if (actual !== kind) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} must be a ${kind}, got ${actual ?? (v === null ? "null" : typeof v)}`,
      { argument: name },
    );
  }
  if (isDetachedView(v as ArrayBufferView)) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached (released) buffer`, {
      argument: name,
    });
  }
  refuseOwnSizes(name, v as object);
  return lengthGetter.call(v) as number;
}

function hasOwnSizes(v: object): boolean {
  return Object.hasOwn(v, "length") || Object.hasOwn(v, "byteLength");
}

/** Own size properties, or a subclass getter claiming sizes the engine does not have. */
function liesAboutSize(v: object): boolean {
  return (
    hasOwnSizes(v) ||
    (v as Uint8Array).length !== lengthGetter.call(v) ||
    (v as Uint8Array).byteLength !== byteLengthGetter.call(v)
  );
}

/**
 * A view with its own `length`/`byteLength`, or a subclass whose getters disagree with the
 * engine, is lying about its size to someone: refused, not trusted and not silently measured (the slow paths only; the fast paths' index probes stop it
 * reaching C).
 */
function refuseOwnSizes(name: string, v: object): void {
  if (liesAboutSize(v)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} claims a length/byteLength the engine does not have: refused`,
      {
        argument: name,
      },
    );
  }
}

const KIND_PROTOS: ReadonlySet<object> = new Set(
  [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((kind) => kind.prototype),
);

/**
 * A direct instance of a built-in typed-array kind: its byte getters are the intrinsic ones.
 * (Exactly one of the built-in prototypes: an object made to inherit from %TypedArray%.prototype
 * could define its own `byteLength`.)
 */
function isPlainView(v: unknown): v is Uint8Array {
  return ArrayBuffer.isView(v) && KIND_PROTOS.has(Object.getPrototypeOf(v));
}

/**
 * The length of any typed array as the engine has it, whatever its prototype or own
 * properties claim: 0 for a detached view, -1 for anything else (a DataView too). The
 * intrinsic getter throws for a non-typed-array, which is cheaper to catch than to test for.
 */
export function engineLength(v: unknown): number {
  try {
    return lengthGetter.call(v) as number;
  } catch {
    return -1;
  }
}

/** The byte length of a typed array as the engine has it (the intrinsic getter: own or subclass
 * `byteLength` properties are not consulted). Anything else (a DataView wearing a typed array's
 * prototype and owning every size a fast path reads, say) is an INVALID_ARGUMENT. */
export function engineByteLength(v: unknown, name = "view"): number {
  try {
    return byteLengthGetter.call(v) as number;
  } catch {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} is not a typed array (the engine says so, whatever it claims)`,
      {
        argument: name,
      },
    );
  }
}

/**
 * Bytes per element of a non-empty typed array, from the engine's byte length and length (a
 * Uint8Array wearing Float32Array's prototype still counts 1).
 */
export function engineElementBytes(v: unknown): number {
  return (byteLengthGetter.call(v) as number) / (lengthGetter.call(v) as number);
}

/**
 * The byte length of any live typed array of any kind (not a DataView), as the engine has it.
 * Subclasses, and empty views (so a detached one is told apart), are read the exact way.
 */
export function checkedByteLength(name: string, v: unknown): number {
  if (isPlainView(v) && v.byteLength > 0 && !hasOwnSizes(v)) return v.byteLength;
  if (typedArrayKind(v) === undefined) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a typed array`, { argument: name });
  }
  if (isDetachedView(v as ArrayBufferView)) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached (released) buffer`, {
      argument: name,
    });
  }
  refuseOwnSizes(name, v as object);
  return byteLengthGetter.call(v) as number;
}

/** The byte offset of a typed array that checkedByteLength accepted. */
export function byteOffsetOf(v: ArrayBufferView): number {
  return isPlainView(v) && !Object.hasOwn(v, "byteOffset")
    ? v.byteOffset
    : (byteOffsetGetter.call(v) as number);
}

/** A Uint8Array over exactly the bytes of a typed array that checkedByteLength accepted. */
export function byteView(v: ArrayBufferView): Uint8Array {
  if (isPlainBytes(v) && !hasOwnSizes(v)) return v;
  // Everything else measured the engine's way (an own byteLength would widen the new view).
  checkedByteLength("view", v);
  return new Uint8Array(
    bufferGetter.call(v) as ArrayBufferLike,
    byteOffsetGetter.call(v) as number,
    byteLengthGetter.call(v) as number,
  );
}
