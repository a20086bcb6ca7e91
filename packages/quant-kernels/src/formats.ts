/** What this package needs of the format table (`@llmem/native`'s FORMATS, the one list of formats). */
import { checkOneOf, LlmemError } from "@llmem/core";
import {
  bytesFor,
  canonicalFormat,
  checkRowFormat as checkRowFormatOf,
  type FormatInfo,
  formatInfo,
  MATRIX_FORMATS,
  type MatrixFormat,
  QUANT_FORMATS,
  type QuantFormat,
  type RowFormat,
} from "@llmem/native";

export type { MatrixFormat, QuantFormat, RowFormat };

/** Values per block of the 32-value formats (Q8_0, Q4_0, Q4_1, Q8_1); the K-quants take 256 (QK_K). */
export const QK = 32;
export const QK_K = 256;

/** The table row of `format` when it is a quantized format name, else undefined (never throws). */
export function quantGeometry(format: unknown): FormatInfo | undefined {
  const info = formatInfo(format);
  return info?.quant ? info : undefined;
}

/** The format's canonical name (ggml's spelling; "q4_k" gives "q4_K"), or an error naming the choices. */
export const checkQuantFormat = (v: unknown): QuantFormat =>
  checkOneOf("format", canonicalFormat(v), QUANT_FORMATS);
export const checkMatrixFormat = (v: unknown): MatrixFormat =>
  checkOneOf("format", canonicalFormat(v), MATRIX_FORMATS);
/** The format's name when it is a row format (the table's lookup: @llmem/core checkRowFormat). */
export const checkRowFormat = (v: unknown): RowFormat => checkRowFormatOf(v);

/** Bytes of one block of a quantized format. */
export function blockBytes(format: QuantFormat): number {
  return formatInfo(format)!.blockBytes;
}

/**
 * Number of whole blocks in `count` values of `format` (its block size from the format table;
 * 32, or 256 for the K-quants). Block formats have no partial block: a count that is not a
 * multiple is an error, never silently padded or truncated.
 */
export function wholeBlocks(name: string, format: string, count: number): number {
  const size = formatInfo(format)?.blockSize ?? QK;
  if (count % size !== 0) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name}: ${format} needs a multiple of ${size} values, got ${count}`,
      { argument: name, format, count, blockSize: size },
    );
  }
  return count / size;
}

/** Bytes of one row of `count` values (count already checked to be whole blocks for block formats). */
export const rowBytes: (format: RowFormat | MatrixFormat | QuantFormat, count: number) => number = bytesFor;
