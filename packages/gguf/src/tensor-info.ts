import type { Cursor } from "./cursor.ts";
import { formatError } from "./errors.ts";
import { type GgmlTypeInfo, ggmlType } from "./ggml-types.ts";
import { readString } from "./metadata-reader.ts";

/** ggml's GGML_MAX_DIMS. */
export const MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME: names are stored in a 64-byte field with its NUL. */
export const MAX_TENSOR_NAME_BYTES = 63;
/** Smallest tensor info: name length (8) + n_dims (4) + type (4) + offset (8). */
export const MIN_TENSOR_INFO_BYTES = 24;

/** A tensor as its info describes it; `offset` is relative to the start of the data section. */
export interface GgufTensorInfo {
  readonly name: string;
  readonly type: GgmlTypeInfo;
  /** ggml order: dims[0] is the row length (the contiguous one). */
  readonly dims: readonly number[];
  readonly elementCount: number;
  readonly byteLength: number;
  readonly offset: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * One tensor info. Sizes are computed in bigint and bounded by `fileLength`, so no product
 * can overflow and no later step trusts an unchecked number.
 */
export function readTensorInfo(cur: Cursor, index: number, fileLength: number): GgufTensorInfo {
  const nameAt = cur.pos;
  const name = readString(cur, `tensor[${index}] name`);
  const field = `tensor ${JSON.stringify(name)}`;
  if (cur.pos - nameAt - 8 > MAX_TENSOR_NAME_BYTES) {
    throw formatError(
      `${field} name`,
      `is longer than ${MAX_TENSOR_NAME_BYTES} bytes (ggml's GGML_MAX_NAME)`,
      {
        limit: MAX_TENSOR_NAME_BYTES,
      },
    );
  }
  const nDimsAt = cur.pos;
  const nDims = cur.u32(`${field} n_dims`);
  if (nDims > MAX_DIMS) {
    throw formatError(`${field} n_dims`, `is ${nDims}, more than ${MAX_DIMS} (ggml's GGML_MAX_DIMS)`, {
      offset: nDimsAt,
      value: nDims,
      limit: MAX_DIMS,
    });
  }
  const dims: number[] = [];
  let elements = 1n;
  for (let d = 0; d < nDims; d++) {
    const at = cur.pos;
    const dim = cur.u64(`${field} dims[${d}]`);
    if (dim < 1n) throw formatError(`${field} dims[${d}]`, `is 0, must be at least 1`, { offset: at });
    elements *= dim;
    // The element count bounds every dim and the product at once; ggml allows up to
    // INT64_MAX, but no tensor larger than 2^53 elements fits in a file we could read.
    if (elements > MAX_SAFE) {
      throw formatError(
        `${field} dims[${d}]`,
        `makes the element count ${elements} exceed ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`,
        { offset: at, value: dim, limit: Number.MAX_SAFE_INTEGER },
      );
    }
    dims.push(Number(dim));
  }
  const type = ggmlType(cur.u32(`${field} type`), `${field} type`);
  const rowLength = dims[0] ?? 1;
  if (rowLength % type.blockSize !== 0) {
    throw formatError(
      `${field} dims[0]`,
      `row length ${rowLength} is not a multiple of ${type.name}'s block size ${type.blockSize}`,
      { value: rowLength, limit: type.blockSize },
    );
  }
  const byteLength = (elements / BigInt(type.blockSize)) * BigInt(type.typeSize);
  if (byteLength > BigInt(fileLength)) {
    throw formatError(
      `${field} size`,
      `${byteLength} bytes (${type.name}) exceed the file length ${fileLength}`,
      {
        value: byteLength,
        limit: fileLength,
      },
    );
  }
  const offsetAt = cur.pos;
  const offset = cur.u64(`${field} offset`);
  if (offset > BigInt(fileLength)) {
    throw formatError(`${field} offset`, `${offset} is past the end of the file (${fileLength} bytes)`, {
      offset: offsetAt,
      value: offset,
      limit: fileLength,
    });
  }
  return {
    name,
    type,
    dims,
    elementCount: Number(elements),
    byteLength: Number(byteLength),
    offset: Number(offset),
  };
}

/**
 * Checks that need every info and the data section's start: each tensor aligned, inside
 * the file, and no two sharing bytes.
 */
export function checkTensorPlacement(
  infos: readonly GgufTensorInfo[],
  dataOffset: number,
  alignment: number,
  fileLength: number,
): void {
  const dataLength = fileLength - dataOffset;
  for (const t of infos) {
    const field = `tensor ${JSON.stringify(t.name)} offset`;
    if (t.offset % alignment !== 0) {
      throw formatError(field, `${t.offset} is not a multiple of the alignment ${alignment}`, {
        value: t.offset,
        limit: alignment,
      });
    }
    if (t.offset + t.byteLength > dataLength) {
      throw formatError(
        field,
        `${t.offset} + ${t.byteLength} bytes ends past the data section (${dataLength} bytes from offset ${dataOffset}; file ${fileLength} bytes)`,
        { value: t.offset, size: t.byteLength, limit: dataLength },
      );
    }
  }
  const sorted = [...infos].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.offset < prev.offset + prev.byteLength) {
      throw formatError(
        `tensor ${JSON.stringify(cur.name)} offset`,
        `${cur.offset} overlaps tensor ${JSON.stringify(prev.name)} (bytes ${prev.offset}..${prev.offset + prev.byteLength})`,
        { value: cur.offset, limit: prev.offset + prev.byteLength },
      );
    }
  }
}
