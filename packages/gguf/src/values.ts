/**
 * GGUF metadata values as JavaScript holds them, and the type tags that say how each was
 * stored (a JS number could have been any of eight GGUF types; the writer needs the tag to
 * write a file back byte for byte).
 */

/** A metadata value: see the README for the mapping from each GGUF value type. */
export type GgufValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | string[]
  | GgufValue[];

/** Scalar value types as GGUF names them, in the order of their on-disk ids. */
export type GgufScalarType =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "f32"
  | "bool"
  | "string"
  | "u64"
  | "i64"
  | "f64";

/**
 * How a value was stored. An array of arrays records each element's own tag in `items`
 * (GGUF lets the inner arrays differ in element type).
 */
export type GgufType =
  | GgufScalarType
  | { readonly array: GgufScalarType }
  | { readonly array: "array"; readonly items: readonly GgufType[] };

/** On-disk value type ids (gguf.h `enum gguf_type`). */
export const VALUE_TYPE_IDS = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufValueTypeName = keyof typeof VALUE_TYPE_IDS;

const NAMES_BY_ID: readonly GgufValueTypeName[] = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
];

export function valueTypeName(id: number): GgufValueTypeName | undefined {
  return NAMES_BY_ID[id];
}

/** Bytes of one fixed-size scalar (strings and arrays have none). */
export const SCALAR_SIZES: Readonly<Record<Exclude<GgufScalarType, "string">, number>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

export type NumericArray = Exclude<GgufValue, number | bigint | boolean | string | string[] | GgufValue[]>;

type NumericArrayCtor = { new (buffer: ArrayBuffer): NumericArray; readonly BYTES_PER_ELEMENT: number };

/** The typed array each fixed-size element type reads into (bool arrays as Uint8Array of 0/1). */
export const ARRAY_CTORS: Readonly<Record<Exclude<GgufScalarType, "string">, NumericArrayCtor>> = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f32: Float32Array,
  bool: Uint8Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
  f64: Float64Array,
};

/** Human-readable tag: `u32`, `array<string>`, `array<array>`. */
export function describeType(type: GgufType): string {
  return typeof type === "string" ? type : `array<${type.array}>`;
}
