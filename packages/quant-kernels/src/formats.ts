/** The formats this package handles, their block geometry and the ids libllmem uses for them. */
import { checkOneOf, DTYPES, LlmemError, type QuantFormat } from "@llmem/core";

export type { QuantFormat };
/** Formats a weight matrix can be stored in. */
export type MatrixFormat = "f32" | "f16" | "q8_0" | "q4_0";
/** Formats attention rows (keys, values) can be stored in. */
export type RowFormat = "f32" | "f16" | "bf16" | "q8_0" | "q4_0" | "q4_1";

/** Values per block of every quantized format. */
export const QK = 32;

/** Format ids of `enum llmem_format` in native/include/llmem.h. */
export const FORMAT_ID = { f32: 0, f16: 1, bf16: 2, q8_0: 3, q4_0: 4, q4_1: 5, q8_1: 6 } as const;

const QUANT_FORMATS: readonly QuantFormat[] = ["q8_0", "q4_0", "q4_1", "q8_1"];

/** What a call into libllmem needs of a quantized format. */
export interface QuantGeometry {
  readonly id: number;
  readonly blockBytes: number;
}

/**
 * Every quantized format's libllmem id and block bytes in one frozen, prototype-less table, so
 * the hot path finds both with one lookup and names like "toString" find nothing.
 */
const QUANT_GEOMETRY: Readonly<Record<string, QuantGeometry | undefined>> = Object.freeze(
  Object.assign(
    Object.create(null),
    Object.fromEntries(
      QUANT_FORMATS.map((f) => [f, Object.freeze({ id: FORMAT_ID[f], blockBytes: DTYPES[f].blockBytes })]),
    ),
  ),
);

/** The geometry of `format`, or undefined when it is not a quantized format name. */
export function quantGeometry(format: unknown): QuantGeometry | undefined {
  return typeof format === "string" ? QUANT_GEOMETRY[format] : undefined;
}
const MATRIX_FORMATS: readonly MatrixFormat[] = ["f32", "f16", "q8_0", "q4_0"];
const ROW_FORMATS: readonly RowFormat[] = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"];

export const checkQuantFormat = (v: unknown): QuantFormat => checkOneOf("format", v, QUANT_FORMATS);
export const checkMatrixFormat = (v: unknown): MatrixFormat => checkOneOf("format", v, MATRIX_FORMATS);
export const checkRowFormat = (v: unknown): RowFormat => checkOneOf("format", v, ROW_FORMATS);

/** Bytes of one 32-value block of a quantized format. */
export function blockBytes(format: QuantFormat): number {
  return DTYPES[format].blockBytes;
}

/**
 * Number of whole blocks in `count` values. Block formats have no partial block: a count
 * that is not a multiple of 32 is an error, never silently padded or truncated.
 */
export function wholeBlocks(name: string, format: string, count: number): number {
  if (count % QK !== 0) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name}: ${format} needs a multiple of ${QK} values, got ${count}`,
      { argument: name, format, count, blockSize: QK },
    );
  }
  return count / QK;
}

/** Bytes of one row of `count` values (count already checked to be whole blocks for block formats). */
export function rowBytes(format: RowFormat | MatrixFormat | QuantFormat, count: number): number {
  const info = DTYPES[format];
  return (count / info.blockSize) * info.blockBytes;
}
