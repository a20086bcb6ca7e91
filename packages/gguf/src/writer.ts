import { describeValue, engineBytes, LlmemError, typedArrayKind } from "@llmem/core";
import { ByteWriter } from "./byte-writer.ts";
import type { GgufFile } from "./file.ts";
import { type GgmlTypeInfo, ggmlTypeOf } from "./ggml-types.ts";
import { alignUp, DEFAULT_ALIGNMENT } from "./reader.ts";
import { MAX_DIMS, MAX_TENSOR_NAME_BYTES } from "./tensor-info.ts";
import {
  ARRAY_CTORS,
  describeType,
  type GgufScalarType,
  type GgufType,
  type GgufValue,
  VALUE_TYPE_IDS,
} from "./values.ts";

/** A tensor to write: `data` holds exactly its bytes in `type`'s layout. */
export interface GgufTensorInput {
  readonly name: string;
  /** A ggml type: its info, name (`q4_K`, case-insensitive) or id. */
  readonly type: GgmlTypeInfo | string | number;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

export interface GgufWriteInput {
  /** Key/value pairs, written in iteration order. */
  readonly metadata: Iterable<readonly [string, GgufValue]>;
  /**
   * How to store each value; a key without a tag gets one inferred from its value (see
   * `inferType`). Pass `GgufFile.types` to write a parsed file back identically.
   */
  readonly types?: ReadonlyMap<string, GgufType>;
  readonly tensors?: readonly GgufTensorInput[];
  /** 3 unless given; v2 has the same layout for little-endian files. */
  readonly version?: 2 | 3;
}

function invalid(field: string, problem: string, details: Record<string, unknown> = {}): LlmemError {
  return new LlmemError("INVALID_ARGUMENT", `GGUF writer ${field}: ${problem}`, { field, ...details });
}

const encoder = new TextEncoder();

/**
 * The tag a value gets when the caller gives none: integers in u32 range are u32, other
 * 32-bit integers i32, other numbers f32 when exact in f32 and f64 otherwise; bigints u64
 * (i64 when negative); typed arrays their own element type (a Uint8Array is u8: pass
 * `{ array: "bool" }` for bools); a string[] is array<string>, and an array of arrays nests.
 */
/** GGUF's array element tag for each typed-array kind it can hold. */
const TYPED_ARRAY_TAGS: Readonly<Record<string, GgufScalarType>> = {
  Uint8Array: "u8",
  Int8Array: "i8",
  Uint16Array: "u16",
  Int16Array: "i16",
  Uint32Array: "u32",
  Int32Array: "i32",
  Float32Array: "f32",
  Float64Array: "f64",
  BigUint64Array: "u64",
  BigInt64Array: "i64",
};

export function inferType(value: GgufValue, field = "value"): GgufType {
  switch (typeof value) {
    case "boolean":
      return "bool";
    case "string":
      return "string";
    case "bigint":
      return value < 0n ? "i64" : "u64";
    case "number":
      if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return "u32";
      if (Number.isInteger(value) && value >= -0x80000000 && value < 0) return "i32";
      return Math.fround(value) === value || Number.isNaN(value) ? "f32" : "f64";
  }
  // The engine's kind, not instanceof (a Uint8Array can wear Float32Array's prototype).
  const kind = typedArrayKind(value);
  if (kind !== undefined) {
    const array = TYPED_ARRAY_TAGS[kind];
    if (array === undefined) throw invalid(field, `cannot be stored in GGUF (${kind})`);
    return { array };
  }
  if (Array.isArray(value)) {
    // Index loops, not every/map: those skip a sparse array's holes, which have no GGUF type.
    const items: GgufType[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw invalid(`${field}[${i}]`, "is a hole in a sparse array");
      items.push(inferType(value[i] as GgufValue, `${field}[${i}]`));
    }
    return items.every((t) => t === "string") ? { array: "string" } : { array: "array", items };
  }
  throw invalid(field, `cannot be stored in GGUF (${typeof value})`);
}

const INT_RANGES: Partial<Record<GgufScalarType, readonly [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

function writeScalar(w: ByteWriter, type: GgufScalarType, value: GgufValue, field: string): void {
  const mismatch = () =>
    invalid(field, `value ${describeValue(value)} does not fit its type ${type}`, { type });
  if (type === "string") {
    if (typeof value !== "string") throw mismatch();
    const b = encoder.encode(value);
    w.u64(BigInt(b.byteLength));
    w.bytes(b);
    return;
  }
  if (type === "bool") {
    if (typeof value !== "boolean") throw mismatch();
    w.u8(value ? 1 : 0);
    return;
  }
  if (type === "u64" || type === "i64") {
    const ok =
      typeof value === "bigint" &&
      (type === "u64" ? value >= 0n && value < 1n << 64n : value >= -(1n << 63n) && value < 1n << 63n);
    if (!ok) throw mismatch();
    if (type === "u64") w.u64(value as bigint);
    else w.i64(value as bigint);
    return;
  }
  if (typeof value !== "number") throw mismatch();
  const range = INT_RANGES[type];
  if (range !== undefined && !(Number.isInteger(value) && value >= range[0] && value <= range[1]))
    throw mismatch();
  switch (type) {
    case "u8":
      w.u8(value);
      return;
    case "i8":
      w.i8(value);
      return;
    case "u16":
      w.u16(value);
      return;
    case "i16":
      w.i16(value);
      return;
    case "u32":
      w.u32(value);
      return;
    case "i32":
      w.i32(value);
      return;
    case "f32":
      w.f32(value);
      return;
    case "f64":
      w.f64(value);
      return;
  }
}

function writeArray(w: ByteWriter, type: Exclude<GgufType, string>, value: GgufValue, field: string): void {
  w.u32(VALUE_TYPE_IDS[type.array]);
  if (type.array === "string") {
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
      throw invalid(field, "must be a string[] for array<string>");
    }
    w.u64(BigInt(value.length));
    for (let i = 0; i < value.length; i++) writeScalar(w, "string", value[i]!, `${field}[${i}]`);
    return;
  }
  if (type.array === "array") {
    if (!Array.isArray(value) || value.length !== type.items.length) {
      throw invalid(field, `must be an array of ${type.items.length} arrays (its items tag says so)`);
    }
    w.u64(BigInt(value.length));
    for (let i = 0; i < value.length; i++) {
      const item = type.items[i]!;
      if (typeof item === "string") throw invalid(`${field}[${i}]`, "an array<array> holds only arrays");
      writeArray(w, item, value[i]!, `${field}[${i}]`);
    }
    return;
  }
  const ctor = ARRAY_CTORS[type.array];
  // The engine's kind and bytes, not instanceof and own length/byteLength (which can lie).
  const bytes = typedArrayKind(value) === ctor.name ? engineBytes(value) : undefined;
  if (bytes === undefined) {
    throw invalid(field, `must be a live ${ctor.name} for ${describeType(type)}`, {
      type: describeType(type),
    });
  }
  if (type.array === "bool" && bytes.some((b) => b > 1)) {
    throw invalid(field, "bool array elements must be 0 or 1");
  }
  w.u64(BigInt(bytes.byteLength / ctor.BYTES_PER_ELEMENT));
  w.bytes(bytes);
}

function writeValue(w: ByteWriter, type: GgufType, value: GgufValue, field: string): void {
  if (typeof type === "string") {
    w.u32(VALUE_TYPE_IDS[type]);
    writeScalar(w, type, value, field);
  } else {
    w.u32(VALUE_TYPE_IDS.array);
    writeArray(w, type, value, field);
  }
}

interface PlacedTensor {
  readonly input: GgufTensorInput;
  readonly type: GgmlTypeInfo;
  readonly offset: number;
}

function checkTensor(t: GgufTensorInput, index: number): GgmlTypeInfo {
  const field = `tensor ${JSON.stringify(t.name)}`;
  if (encoder.encode(t.name).byteLength > MAX_TENSOR_NAME_BYTES) {
    throw invalid(`${field} name`, `is longer than ${MAX_TENSOR_NAME_BYTES} bytes`);
  }
  const type = ggmlTypeOf(t.type instanceof Object ? t.type.id : t.type, `${field} type`);
  if (t.dims.length > MAX_DIMS)
    throw invalid(`${field} dims`, `has ${t.dims.length} entries, at most ${MAX_DIMS}`);
  let elements = 1;
  t.dims.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 1)
      throw invalid(`${field} dims[${i}]`, `is ${d}, must be an integer ≥ 1`);
    elements *= d;
  });
  if (!Number.isSafeInteger(elements)) throw invalid(`${field} dims`, "element count exceeds 2^53 - 1");
  const row = t.dims[0] ?? 1;
  if (row % type.blockSize !== 0) {
    throw invalid(
      `${field} dims[0]`,
      `row length ${row} is not a multiple of ${type.name}'s block size ${type.blockSize}`,
    );
  }
  const bytes = (elements / type.blockSize) * type.typeSize;
  if (t.data.byteLength !== bytes) {
    throw invalid(
      `${field} data`,
      `holds ${t.data.byteLength} bytes; ${type.name} [${t.dims.join(", ")}] needs ${bytes}`,
      {
        index,
      },
    );
  }
  return type;
}

/** The input's metadata entries and tensor list, each read once and checked for shape. */
function writeParts(input: GgufWriteInput): {
  entries: (readonly [string, GgufValue])[];
  tensors: readonly GgufTensorInput[];
} {
  if (typeof input !== "object" || input === null) {
    throw invalid("input", `must be { metadata, tensors? }, got ${describeValue(input)}`);
  }
  const metadata = input.metadata;
  const tensors = input.tensors ?? [];
  if (typeof (metadata as Iterable<unknown> | null)?.[Symbol.iterator] !== "function") {
    throw invalid("metadata", `must be an iterable of [key, value] pairs, got ${describeValue(metadata)}`);
  }
  if (!Array.isArray(tensors)) throw invalid("tensors", `must be an array, got ${describeValue(tensors)}`);
  if (input.version !== undefined && input.version !== 2 && input.version !== 3) {
    throw invalid("version", `must be 2 or 3, got ${describeValue(input.version)}`);
  }
  const entries: (readonly [string, GgufValue])[] = [];
  let items: unknown[];
  try {
    items = Array.from(metadata as Iterable<unknown>);
  } catch (e) {
    // Its own iterator threw (a detached or dressed typed array, a throwing generator).
    throw invalid("metadata", `could not be iterated: ${e instanceof Error ? e.message : describeValue(e)}`);
  }
  for (const e of items) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string") {
      throw invalid(
        `metadata[${entries.length}]`,
        `must be a [key, value] pair with a string key, got ${describeValue(e)}`,
      );
    }
    entries.push(e as unknown as readonly [string, GgufValue]);
  }
  return { entries, tensors: tensors.map(tensorInput) };
}

/**
 * A tensor's fields read once into a plain record the writer then uses alone: a string name,
 * the type as given, a copy of dims (an array of numbers) and the data as the engine measures
 * it (a getter or an own byteLength cannot show the checks one thing and the writer another).
 */
function tensorInput(t: unknown, i: number): GgufTensorInput {
  if (typeof t !== "object" || t === null)
    throw invalid(`tensors[${i}]`, `must be a tensor, got ${describeValue(t)}`);
  const { name, type, dims, data } = t as GgufTensorInput;
  if (typeof name !== "string")
    throw invalid(`tensors[${i}] name`, `must be a string, got ${describeValue(name)}`);
  if (!Array.isArray(dims))
    throw invalid(`tensors[${i}] dims`, `must be an array, got ${describeValue(dims)}`);
  const bytes = typedArrayKind(data) === "Uint8Array" ? engineBytes(data) : undefined;
  if (bytes === undefined) {
    throw invalid(`tensors[${i}] data`, `must be a live Uint8Array, got ${describeValue(data)}`);
  }
  return { name, type, dims: Array.from(dims, (d) => d as number), data: bytes };
}

/**
 * A GGUF file (v3 unless asked) from metadata and tensors, laid out as llama.cpp lays it
 * out: header, key/value pairs, tensor infos, zero padding to the alignment, then each
 * tensor's bytes followed by zero padding to the alignment. A file without tensors ends
 * after its infos, as gguf-py writes it.
 */
export function writeGguf(input: GgufWriteInput): Uint8Array {
  const { entries, tensors } = writeParts(input);
  const seenKeys = new Set<string>();
  const w = new ByteWriter();
  const header = new Uint8Array([0x47, 0x47, 0x55, 0x46]);
  w.bytes(header);
  w.u32(input.version ?? 3);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(entries.length));

  let alignment = DEFAULT_ALIGNMENT;
  for (const [key, value] of entries) {
    const field = `metadata ${JSON.stringify(key)}`;
    if (seenKeys.has(key)) throw invalid(field, "appears twice");
    seenKeys.add(key);
    const type = input.types?.get(key) ?? inferType(value, field);
    if (key === "general.alignment") {
      if (type !== "u32" || typeof value !== "number" || value < 1 || (value & (value - 1)) !== 0) {
        throw invalid(
          field,
          `must be a u32 power of two, got ${describeValue(value)} (${describeType(type)})`,
        );
      }
      alignment = value;
    }
    writeScalar(w, "string", key, `${field} key`);
    writeValue(w, type, value, field);
  }

  const seenNames = new Set<string>();
  const placed: PlacedTensor[] = [];
  let offset = 0;
  tensors.forEach((t, i) => {
    if (seenNames.has(t.name)) throw invalid(`tensor ${JSON.stringify(t.name)}`, "appears twice");
    seenNames.add(t.name);
    const type = checkTensor(t, i);
    placed.push({ input: t, type, offset });
    writeScalar(w, "string", t.name, `tensor ${JSON.stringify(t.name)} name`);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(BigInt(d));
    w.u32(type.id);
    w.u64(BigInt(offset));
    offset += alignUp(t.data.byteLength, alignment);
  });

  const meta = w.result();
  const dataOffset = tensors.length === 0 ? meta.byteLength : alignUp(meta.byteLength, alignment);
  // Zero-filled, so every padding gap is already written.
  const out = new Uint8Array(dataOffset + offset);
  out.set(meta, 0);
  for (const p of placed) out.set(p.input.data, dataOffset + p.offset);
  return out;
}

/** What `writeGguf` needs to write `file` back: its metadata with their stored types, its tensors as views. */
export function writeInputFrom(file: GgufFile): GgufWriteInput {
  return {
    metadata: file.metadata,
    types: file.types,
    version: file.version === 2 ? 2 : 3,
    tensors: file.tensorInfos.map((t) => ({
      name: t.name,
      type: t.type,
      dims: t.dims,
      data: file.tensor(t.name).data,
    })),
  };
}
