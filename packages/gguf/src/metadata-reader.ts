import type { Cursor } from "./cursor.ts";
import { formatError, unsupportedError } from "./errors.ts";
import {
  ARRAY_CTORS,
  type GgufScalarType,
  type GgufType,
  type GgufValue,
  SCALAR_SIZES,
  valueTypeName,
} from "./values.ts";

/** Arrays of arrays deeper than this are refused: no real file nests at all, and recursion stays bounded. */
export const MAX_ARRAY_DEPTH = 8;

/** Smallest encoding of a string (its u64 length) and of an array (u32 type + u64 count). */
const MIN_STRING_BYTES = 8;
const MIN_ARRAY_BYTES = 12;

// fatal: a string that is not UTF-8 is a format error, not silently replaced characters
// (which would also break the byte-identical round trip).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function readString(cur: Cursor, field: string): string {
  const length = cur.count(`${field} length`, 1, "bytes");
  const bytes = cur.take(length, field);
  // ASCII fast path: token vocabularies are tens of thousands of short, mostly ASCII strings
  // (bounded, because fromCharCode.apply passes every byte as an argument).
  let ascii = length <= 1024;
  for (let i = 0; ascii && i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return bytes.length === 0 ? "" : String.fromCharCode.apply(null, bytes as unknown as number[]);
  try {
    return utf8.decode(bytes);
  } catch {
    throw formatError(field, `is not valid UTF-8 (${length} bytes at offset ${cur.pos - length})`, {
      offset: cur.pos - length,
    });
  }
}

function readTypeId(cur: Cursor, field: string): GgufScalarType | "array" {
  const at = cur.pos;
  const id = cur.u32(field);
  const name = valueTypeName(id);
  if (name === undefined) {
    throw unsupportedError(field, `unknown value type id ${id} at offset ${at} (known: 0-12)`, {
      offset: at,
      value: id,
    });
  }
  return name;
}

function readBool(cur: Cursor, field: string): boolean {
  const at = cur.pos;
  const b = cur.u8(field);
  if (b > 1)
    throw formatError(field, `bool byte is ${b} at offset ${at}, must be 0 or 1`, { offset: at, value: b });
  return b === 1;
}

function readScalar(cur: Cursor, type: GgufScalarType, field: string): GgufValue {
  switch (type) {
    case "u8":
      return cur.u8(field);
    case "i8":
      return cur.i8(field);
    case "u16":
      return cur.u16(field);
    case "i16":
      return cur.i16(field);
    case "u32":
      return cur.u32(field);
    case "i32":
      return cur.i32(field);
    case "f32":
      return cur.f32(field);
    case "bool":
      return readBool(cur, field);
    case "string":
      return readString(cur, field);
    case "u64":
      return cur.u64(field);
    case "i64":
      return cur.i64(field);
    case "f64":
      return cur.f64(field);
  }
}

/** A value of `type` (already read) at the cursor; `depth` counts enclosing arrays. */
export function readValue(
  cur: Cursor,
  type: GgufScalarType | "array",
  field: string,
  depth = 0,
): { value: GgufValue; type: GgufType } {
  if (type !== "array") return { value: readScalar(cur, type, field), type };
  if (depth >= MAX_ARRAY_DEPTH) {
    throw formatError(field, `arrays nested deeper than ${MAX_ARRAY_DEPTH} levels`, {
      limit: MAX_ARRAY_DEPTH,
    });
  }
  const elem = readTypeId(cur, `${field} element type`);
  if (elem === "string") {
    const n = cur.count(`${field} count`, MIN_STRING_BYTES, "strings");
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = readString(cur, `${field}[${i}]`);
    return { value: out, type: { array: "string" } };
  }
  if (elem === "array") {
    const n = cur.count(`${field} count`, MIN_ARRAY_BYTES, "arrays");
    const out: GgufValue[] = new Array(n);
    const items: GgufType[] = new Array(n);
    // Each inner array is written without a type id of its own (the element type said
    // "array"): its element type and count come straight away, as gguf-py writes them.
    for (let i = 0; i < n; i++) {
      const r = readValue(cur, "array", `${field}[${i}]`, depth + 1);
      out[i] = r.value;
      items[i] = r.type;
    }
    return { value: out, type: { array: "array", items } };
  }
  const size = SCALAR_SIZES[elem];
  const n = cur.count(`${field} count`, size, `${elem} values`);
  const raw = cur.take(n * size, field);
  // A copy into a fresh buffer: aligned for the typed array whatever the file offset, and
  // no larger than the bytes just checked to exist.
  const copy = new ArrayBuffer(raw.byteLength);
  new Uint8Array(copy).set(raw);
  const value = new ARRAY_CTORS[elem](copy);
  if (elem === "bool") {
    const bad = raw.findIndex((b) => b > 1);
    if (bad >= 0) throw formatError(`${field}[${bad}]`, `bool byte is ${raw[bad]}, must be 0 or 1`);
  }
  return { value, type: { array: elem } };
}

/** One key/value pair: `index` is its position, for messages. */
export function readEntry(cur: Cursor, index: number): { key: string; value: GgufValue; type: GgufType } {
  const key = readString(cur, `metadata[${index}] key`);
  const field = `metadata ${JSON.stringify(key)}`;
  const type = readTypeId(cur, `${field} type`);
  const { value, type: tag } = readValue(cur, type, field);
  return { key, value, type: tag };
}
