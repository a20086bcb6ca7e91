import type { TypedArrayConstructor } from "@llmem/core";

/** Bytes per element of every typed-array constructor the arena accepts (anything else is refused). */
export const ELEMENT_BYTES: ReadonlyMap<unknown, number> = new Map<TypedArrayConstructor, number>([
  [Int8Array, 1],
  [Uint8Array, 1],
  [Uint8ClampedArray, 1],
  [Int16Array, 2],
  [Uint16Array, 2],
  [Int32Array, 4],
  [Uint32Array, 4],
  [Float16Array, 2],
  [Float32Array, 4],
  [Float64Array, 8],
  [BigInt64Array, 8],
  [BigUint64Array, 8],
]);
