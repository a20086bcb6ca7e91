/** The typed-array types llmem passes around. Storage formats (f32, q8_0, ...) live in the format table, formats.ts. */
export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float16ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export type TypedArray =
  | Int8Array<ArrayBufferLike>
  | Uint8Array<ArrayBufferLike>
  | Uint8ClampedArray<ArrayBufferLike>
  | Int16Array<ArrayBufferLike>
  | Uint16Array<ArrayBufferLike>
  | Int32Array<ArrayBufferLike>
  | Uint32Array<ArrayBufferLike>
  | Float16Array<ArrayBufferLike>
  | Float32Array<ArrayBufferLike>
  | Float64Array<ArrayBufferLike>
  | BigInt64Array<ArrayBufferLike>
  | BigUint64Array<ArrayBufferLike>;

// The engine's own %TypedArray% getters: an object cannot shadow them with own properties,
// a subclass or a borrowed prototype (see @llmem/native's views.ts for why this matters).
const TYPED_ARRAY_PROTO = Object.getPrototypeOf(Uint8Array.prototype) as object;
const kindGetter = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, Symbol.toStringTag)!.get!;
const bufferGetter = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, "buffer")!.get!;
const detachedGetter = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "detached")!.get!;
const byteOffsetGetter = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, "byteOffset")!.get!;
const byteLengthGetter = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, "byteLength")!.get!;

/** "Float32Array", "Uint8Array", ... for any typed array, whatever its prototype says; undefined for anything else. */
export function typedArrayKind(v: unknown): string | undefined {
  return kindGetter.call(v) as string | undefined;
}

/** Whether a typed array's buffer has been detached (released), read the engine's way. */
export function isDetachedView(v: ArrayBufferView): boolean {
  try {
    return detachedGetter.call(bufferGetter.call(v)) === true;
  } catch {
    return false; // a SharedArrayBuffer: never detached
  }
}

/**
 * A plain Uint8Array over exactly the bytes of a live typed array, as the engine has them (own
 * or subclass `buffer`/`byteOffset`/`byteLength` are not consulted); undefined for anything
 * else, a detached view included.
 */
export function engineBytes(v: unknown): Uint8Array | undefined {
  if (typedArrayKind(v) === undefined || isDetachedView(v as ArrayBufferView)) return undefined;
  return new Uint8Array(
    bufferGetter.call(v) as ArrayBufferLike,
    byteOffsetGetter.call(v) as number,
    byteLengthGetter.call(v) as number,
  );
}
