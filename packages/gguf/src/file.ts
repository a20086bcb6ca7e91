import { LlmemError } from "@llmem/core";
import { formatError } from "./errors.ts";
import type { GgmlTypeInfo } from "./ggml-types.ts";
import type { GgufTensorInfo } from "./tensor-info.ts";
import { describeType, type GgufType, type GgufValue, type NumericArray } from "./values.ts";

/** A tensor handed out by `GgufFile.tensor`: `data` is a view into the file's bytes, not a copy. */
export interface GgufTensor {
  readonly name: string;
  readonly type: GgmlTypeInfo;
  readonly dims: readonly number[];
  readonly elementCount: number;
  readonly byteLength: number;
  /** Absolute offset of the first byte in the file. */
  readonly fileOffset: number;
  readonly data: Uint8Array;
}

export interface GgufFileParts {
  readonly bytes: Uint8Array;
  readonly version: number;
  readonly alignment: number;
  readonly dataOffset: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly types: ReadonlyMap<string, GgufType>;
  readonly tensors: readonly GgufTensorInfo[];
}

function wrongType(key: string, want: string, type: GgufType): LlmemError {
  return formatError(`metadata ${JSON.stringify(key)}`, `is ${describeType(type)}, expected ${want}`, {
    key,
    type: describeType(type),
  });
}

function isArrayType(type: GgufType): type is Exclude<GgufType, string> {
  return typeof type !== "string";
}

/** A parsed GGUF file: every field was checked when it was read (see reader.ts). */
export class GgufFile {
  /** The whole file (mapped or given); tensors are views into it. */
  readonly bytes: Uint8Array;
  readonly version: number;
  /** `general.alignment`, or 32. */
  readonly alignment: number;
  /** Absolute offset of the data section (tensor offsets are relative to it). */
  readonly dataOffset: number;
  /** Every key/value pair in file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** How each value was stored (what the writer needs to write it back identically). */
  readonly types: ReadonlyMap<string, GgufType>;
  /** Tensor infos in file order. */
  readonly tensorInfos: readonly GgufTensorInfo[];
  private readonly byName: ReadonlyMap<string, GgufTensorInfo>;

  constructor(parts: GgufFileParts) {
    this.bytes = parts.bytes;
    this.version = parts.version;
    this.alignment = parts.alignment;
    this.dataOffset = parts.dataOffset;
    this.metadata = parts.metadata;
    this.types = parts.types;
    this.tensorInfos = parts.tensors;
    this.byName = new Map(parts.tensors.map((t) => [t.name, t]));
  }

  // ---- tensors ----

  hasTensor(name: string): boolean {
    return this.byName.has(name);
  }

  /** The tensor called `name`, its bytes a zero-copy view; absent → FORMAT_ERROR naming it. */
  tensor(name: string): GgufTensor {
    const info = this.byName.get(name);
    if (info === undefined) throw formatError(`tensor ${JSON.stringify(name)}`, "is not in the file");
    const fileOffset = this.dataOffset + info.offset;
    return {
      name: info.name,
      type: info.type,
      dims: info.dims,
      elementCount: info.elementCount,
      byteLength: info.byteLength,
      fileOffset,
      data: this.bytes.subarray(fileOffset, fileOffset + info.byteLength),
    };
  }

  /** An F32 tensor as a Float32Array view (no copy). */
  tensorF32(name: string): Float32Array {
    const data = this.typedData(name, "f32", 4);
    return new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  }

  /** An F16 tensor as a view of its raw IEEE half bits (no copy). */
  tensorF16(name: string): Uint16Array {
    const data = this.typedData(name, "f16", 2);
    return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  }

  private typedData(name: string, type: string, size: number): Uint8Array {
    const t = this.tensor(name);
    if (t.type.name !== type) {
      throw new LlmemError(
        "UNSUPPORTED",
        `GGUF tensor ${JSON.stringify(name)}: is ${t.type.name}, not ${type}`,
        {
          tensor: name,
          type: t.type.name,
        },
      );
    }
    // Aligned whenever the bytes start at an aligned address (a mapping always does); a
    // caller's Uint8Array at an odd offset gets an error rather than a silent copy.
    if (t.data.byteOffset % size !== 0) {
      throw new LlmemError(
        "MISALIGNED",
        `GGUF tensor ${JSON.stringify(name)}: data at byte ${t.data.byteOffset} of its buffer is not ${size}-byte aligned for a ${type} view`,
        { tensor: name, byteOffset: t.data.byteOffset },
      );
    }
    return t.data;
  }

  // ---- metadata ----

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  private required(key: string): GgufValue {
    const v = this.metadata.get(key);
    if (v === undefined) throw formatError(`metadata ${JSON.stringify(key)}`, "is missing", { key });
    return v;
  }

  private typeOf(key: string): GgufType {
    return this.types.get(key)!;
  }

  optString(key: string): string | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw wrongType(key, "string", this.typeOf(key));
    return v;
  }

  getString(key: string): string {
    this.required(key);
    return this.optString(key)!;
  }

  /**
   * Any numeric scalar as a number: u64/i64 values are accepted when they are exact
   * (|v| ≤ 2^53 - 1), so callers need not care which integer width a converter chose.
   */
  optNumber(key: string): number | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v === "number") return v;
    if (typeof v === "bigint") {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw formatError(
          `metadata ${JSON.stringify(key)}`,
          `${v} is not exactly representable as a number`,
          {
            key,
          },
        );
      }
      return Number(v);
    }
    throw wrongType(key, "a number", this.typeOf(key));
  }

  getNumber(key: string): number {
    this.required(key);
    return this.optNumber(key)!;
  }

  optBool(key: string): boolean | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") throw wrongType(key, "bool", this.typeOf(key));
    return v;
  }

  getBool(key: string): boolean {
    this.required(key);
    return this.optBool(key)!;
  }

  /** Any array value (typed array, string[] or nested array). */
  optArray(key: string): NumericArray | string[] | GgufValue[] | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    if (!isArrayType(this.typeOf(key))) throw wrongType(key, "an array", this.typeOf(key));
    return v as NumericArray | string[] | GgufValue[];
  }

  getArray(key: string): NumericArray | string[] | GgufValue[] {
    this.required(key);
    return this.optArray(key)!;
  }

  optStringArray(key: string): string[] | undefined {
    const v = this.optArray(key);
    if (v === undefined) return undefined;
    const type = this.typeOf(key);
    if (isArrayType(type) && type.array !== "string") throw wrongType(key, "array<string>", type);
    return v as string[];
  }

  getStringArray(key: string): string[] {
    this.required(key);
    return this.optStringArray(key)!;
  }

  /** A numeric array as a typed array (bool arrays as Uint8Array of 0/1). */
  optNumericArray(key: string): NumericArray | undefined {
    const v = this.optArray(key);
    if (v === undefined) return undefined;
    const type = this.typeOf(key);
    if (isArrayType(type) && (type.array === "string" || type.array === "array")) {
      throw wrongType(key, "a numeric array", type);
    }
    return v as NumericArray;
  }

  getNumericArray(key: string): NumericArray {
    this.required(key);
    return this.optNumericArray(key)!;
  }
}
