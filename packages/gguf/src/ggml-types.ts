import { describeValue } from "@llmem/core";
import { unsupportedError } from "./errors.ts";

/** One ggml tensor element type as GGUF stores it: values per block and bytes per block. */
export interface GgmlTypeInfo {
  /** The id written in a tensor info. */
  readonly id: number;
  /** The name as ggml spells it (`q4_K`, `f32`, ...). */
  readonly name: string;
  /** Values per block (1 for plain element types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

/**
 * Every type ggml defines at llama.cpp c392e50 (`ggml.h` / `ggml.c` type_traits), including
 * ones llmem cannot compute with, so the byte size of any tensor in a valid file can be
 * checked. Ids 4, 5 and 31-33, 36-38 were removed from ggml and are refused like unknown ids.
 * test/ggml-types.test.ts checks the rows llmem computes with against the format table (@llmem/core).
 */
const TYPES: readonly GgmlTypeInfo[] = [
  { id: 0, name: "f32", blockSize: 1, typeSize: 4 },
  { id: 1, name: "f16", blockSize: 1, typeSize: 2 },
  { id: 2, name: "q4_0", blockSize: 32, typeSize: 18 },
  { id: 3, name: "q4_1", blockSize: 32, typeSize: 20 },
  { id: 6, name: "q5_0", blockSize: 32, typeSize: 22 },
  { id: 7, name: "q5_1", blockSize: 32, typeSize: 24 },
  { id: 8, name: "q8_0", blockSize: 32, typeSize: 34 },
  { id: 9, name: "q8_1", blockSize: 32, typeSize: 36 },
  { id: 10, name: "q2_K", blockSize: 256, typeSize: 84 },
  { id: 11, name: "q3_K", blockSize: 256, typeSize: 110 },
  { id: 12, name: "q4_K", blockSize: 256, typeSize: 144 },
  { id: 13, name: "q5_K", blockSize: 256, typeSize: 176 },
  { id: 14, name: "q6_K", blockSize: 256, typeSize: 210 },
  { id: 15, name: "q8_K", blockSize: 256, typeSize: 292 },
  { id: 16, name: "iq2_xxs", blockSize: 256, typeSize: 66 },
  { id: 17, name: "iq2_xs", blockSize: 256, typeSize: 74 },
  { id: 18, name: "iq3_xxs", blockSize: 256, typeSize: 98 },
  { id: 19, name: "iq1_s", blockSize: 256, typeSize: 50 },
  { id: 20, name: "iq4_nl", blockSize: 32, typeSize: 18 },
  { id: 21, name: "iq3_s", blockSize: 256, typeSize: 110 },
  { id: 22, name: "iq2_s", blockSize: 256, typeSize: 82 },
  { id: 23, name: "iq4_xs", blockSize: 256, typeSize: 136 },
  { id: 24, name: "i8", blockSize: 1, typeSize: 1 },
  { id: 25, name: "i16", blockSize: 1, typeSize: 2 },
  { id: 26, name: "i32", blockSize: 1, typeSize: 4 },
  { id: 27, name: "i64", blockSize: 1, typeSize: 8 },
  { id: 28, name: "f64", blockSize: 1, typeSize: 8 },
  { id: 29, name: "iq1_m", blockSize: 256, typeSize: 56 },
  { id: 30, name: "bf16", blockSize: 1, typeSize: 2 },
  { id: 34, name: "tq1_0", blockSize: 256, typeSize: 54 },
  { id: 35, name: "tq2_0", blockSize: 256, typeSize: 66 },
];

export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map(TYPES.map((t) => [t.id, t]));
const BY_NAME: ReadonlyMap<string, GgmlTypeInfo> = new Map(TYPES.map((t) => [t.name.toLowerCase(), t]));

/** The type with this id; an id ggml does not define (or removed) is UNSUPPORTED, naming `field`. */
export function ggmlType(id: number, field = "ggml type"): GgmlTypeInfo {
  const info = GGML_TYPES.get(id);
  if (info === undefined) {
    throw unsupportedError(
      field,
      `unknown ggml type id ${id} (known: ${TYPES.map((t) => t.id).join(", ")})`,
      {
        value: id,
      },
    );
  }
  return info;
}

/** The type with this name (`q4_K`, `Q4_K` and `q4_k` all match), or its id. */
export function ggmlTypeOf(nameOrId: string | number, field = "ggml type"): GgmlTypeInfo {
  if (typeof nameOrId === "number") return ggmlType(nameOrId, field);
  if (typeof nameOrId !== "string") {
    throw unsupportedError(field, `a ggml type is a name or an id, got ${describeValue(nameOrId)}`, {
      value: nameOrId,
    });
  }
  const info = BY_NAME.get(nameOrId.toLowerCase());
  if (info === undefined) {
    throw unsupportedError(field, `unknown ggml type ${JSON.stringify(nameOrId)}`, { value: nameOrId });
  }
  return info;
}
