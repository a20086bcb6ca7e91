/**
 * The format table (defined in @llmem/core's formats.ts, re-exported here) and libllmem's own
 * copy of it, read through `llmem_format_describe` for the agreement test.
 */
import type { Format, FormatInfo } from "@llmem/core";
import { nativeLib } from "./library.ts";

export {
  ALL_FORMATS,
  bytesFor,
  canonicalFormat,
  checkRowFormat,
  type FloatFormat,
  FORMAT_LIST,
  FORMATS,
  type Format,
  type FormatInfo,
  formatInfo,
  isBlockFormat,
  MATRIX_FORMATS,
  type MatrixFormat,
  QUANT_FORMATS,
  type QuantFormat,
  ROW_FORMATS,
  type RowFormat,
} from "@llmem/core";

const FLAG_QUANT = 1;
const FLAG_ROW = 2;
const FLAG_MATRIX = 4;
const NO_FORMAT = 0xffffffff;

/**
 * libllmem's own format table as `llmem_format_describe` reports it, in the shape of
 * `FORMAT_LIST` (null when native is off): what the agreement test compares.
 */
export function nativeFormatTable(): FormatInfo[] | null {
  const lib = nativeLib();
  if (!lib) return null;
  const rows: FormatInfo[] = [];
  const out = new Uint32Array(4);
  const count = lib.llmem_format_count();
  for (let id = 0; id < count; id++) {
    if (lib.llmem_format_describe(id, out) !== 0) throw new Error(`llmem_format_describe(${id}) failed`);
    const vecDot = out[2] === NO_FORMAT ? null : String(lib.llmem_format_name(out[2]!));
    rows.push({
      id,
      name: String(lib.llmem_format_name(id)) as Format,
      blockSize: out[0]!,
      blockBytes: out[1]!,
      vecDot: vecDot as Format | null,
      quant: (out[3]! & FLAG_QUANT) !== 0,
      row: (out[3]! & FLAG_ROW) !== 0,
      matrix: (out[3]! & FLAG_MATRIX) !== 0,
    });
  }
  return rows;
}
