/** Element types llmem stores, with their sizes; block formats give bytes per 32-value block. */
export type FloatDType = "f32" | "f16" | "bf16";
export type QuantFormat = "q8_0" | "q4_0" | "q4_1" | "q8_1";
export type DType = FloatDType | QuantFormat;

export interface DTypeInfo {
  readonly name: DType;
  /** Values per block (1 for plain element types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  f32: { name: "f32", blockSize: 1, blockBytes: 4 },
  f16: { name: "f16", blockSize: 1, blockBytes: 2 },
  bf16: { name: "bf16", blockSize: 1, blockBytes: 2 },
  q8_0: { name: "q8_0", blockSize: 32, blockBytes: 34 },
  q4_0: { name: "q4_0", blockSize: 32, blockBytes: 18 },
  q4_1: { name: "q4_1", blockSize: 32, blockBytes: 20 },
  q8_1: { name: "q8_1", blockSize: 32, blockBytes: 36 },
};

/** Bytes needed for `count` values of `dtype` (count must be a whole number of blocks). */
export function bytesFor(dtype: DType, count: number): number {
  const info = DTYPES[dtype];
  return (count / info.blockSize) * info.blockBytes;
}

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
