/**
 * Re-quantizing whole block payloads between row formats (a host tier may keep the pool's f32
 * or f16 blocks as q8_0, 3.8× or 1.9× smaller): each row — one token's K or V of one layer,
 * numKvHeads × headDim values — is decoded and encoded again, 4-bit formats with the
 * error-minimising search the store tier uses.
 */
import { LlmemError } from "@llmem/core";
import { decodeRow } from "./ops.ts";
import { encodeStoreRow } from "./q4-search.ts";
import { isBlockFormat, type RowFormat, rowBytes } from "./row-formats.ts";

/**
 * `rows` rows of `rowFloats` values from format `from` to `to`; null when a value is not finite
 * and `to` is a block format (a block's scale would turn the whole block to NaN).
 */
export function convertRows(
  src: Uint8Array,
  from: RowFormat,
  to: RowFormat,
  rows: number,
  rowFloats: number,
): Uint8Array | null {
  const fb = rowBytes(from, rowFloats);
  const tb = rowBytes(to, rowFloats);
  if (src.length !== rows * fb) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `payload of ${src.length} bytes is not ${rows} ${from} rows of ${rowFloats}`,
      {
        argument: "payload",
      },
    );
  }
  const out = new Uint8Array(rows * tb);
  const row = new Float32Array(rowFloats);
  const finiteOnly = isBlockFormat(to);
  for (let r = 0; r < rows; r++) {
    decodeRow(from, src, r * fb, rowFloats, row);
    if (finiteOnly) for (let i = 0; i < rowFloats; i++) if (!Number.isFinite(row[i]!)) return null;
    encodeStoreRow(to, row, rowFloats, out, r * tb);
  }
  return out;
}
