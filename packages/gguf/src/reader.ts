import { statSync } from "node:fs";
import { describeValue, engineBytes, LlmemError, typedArrayKind } from "@llmem/core";
import { Cursor } from "./cursor.ts";
import { formatError, unsupportedError } from "./errors.ts";
import { GgufFile } from "./file.ts";
import { readEntry } from "./metadata-reader.ts";
import {
  checkTensorPlacement,
  type GgufTensorInfo,
  MIN_TENSOR_INFO_BYTES,
  readTensorInfo,
} from "./tensor-info.ts";
import type { GgufType, GgufValue } from "./values.ts";

export const GGUF_MAGIC = "GGUF";
export const DEFAULT_ALIGNMENT = 32;
/** Smallest key/value pair: key length (8) + value type (4) + a 1-byte value. */
const MIN_ENTRY_BYTES = 13;
/** Header: magic, version, tensor count, key/value count. */
const HEADER_BYTES = 24;

/** Rounds `n` up to a multiple of `alignment` (a power of two). */
export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function readHeader(cur: Cursor): number {
  const magic = cur.take(4, "header magic");
  if (String.fromCharCode(...magic) !== GGUF_MAGIC) {
    throw formatError(
      "header magic",
      `is ${JSON.stringify(String.fromCharCode(...magic))}, expected "GGUF"`,
      {
        value: [...magic],
      },
    );
  }
  const version = cur.u32("header version");
  if (version === 1) {
    throw unsupportedError(
      "header version",
      "is 1; GGUF v1 (32-bit counts) is not read, only v2 and v3 (re-save the file with a current llama.cpp)",
      { value: version },
    );
  }
  if (version !== 2 && version !== 3) {
    // A big-endian v3 file reads as 0x03000000 here.
    const hint =
      version === 0x03000000 || version === 0x02000000 ? " (a big-endian file, not supported)" : "";
    throw unsupportedError("header version", `is ${version}, only 2 and 3 are read${hint}`, {
      value: version,
    });
  }
  return version;
}

function readAlignment(
  metadata: ReadonlyMap<string, GgufValue>,
  types: ReadonlyMap<string, GgufType>,
): number {
  const value = metadata.get("general.alignment");
  if (value === undefined) return DEFAULT_ALIGNMENT;
  const field = 'metadata "general.alignment"';
  if (types.get("general.alignment") !== "u32") {
    throw formatError(field, `is ${JSON.stringify(types.get("general.alignment"))}, must be u32`);
  }
  const a = value as number;
  if (a === 0 || (a & (a - 1)) !== 0) {
    throw formatError(field, `is ${a}, must be a power of two`, { value: a });
  }
  return a;
}

/**
 * A plain Uint8Array over the file's memory (a Node Buffer's slice() shares memory, and tensor
 * views should be Uint8Arrays whatever the caller passed), measured by the engine: an own or
 * subclass `byteLength` cannot widen it. Anything but a Uint8Array or an ArrayBuffer is refused.
 */
function fileBytes(input: unknown): Uint8Array {
  if (input instanceof ArrayBuffer && !input.detached) return new Uint8Array(input);
  const bytes = typedArrayKind(input) === "Uint8Array" ? engineBytes(input) : undefined;
  if (bytes === undefined) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `input must be the file's bytes (a live Uint8Array or ArrayBuffer), got ${describeValue(input)}`,
      { argument: "input" },
    );
  }
  return bytes;
}

/**
 * Parses a whole GGUF v2/v3 file held in memory. Nothing is trusted before it is checked
 * against the file length (see the README's validation rules); tensors stay in `bytes`.
 */
export function parseGguf(input: Uint8Array | ArrayBuffer): GgufFile {
  const bytes = fileBytes(input);
  const cur = new Cursor(bytes);
  const version = readHeader(cur);
  const tensorCount = cur.count("header tensor_count", MIN_TENSOR_INFO_BYTES, "tensor infos");
  const entryCount = cur.count("header metadata_kv_count", MIN_ENTRY_BYTES, "key/value pairs");

  const metadata = new Map<string, GgufValue>();
  const types = new Map<string, GgufType>();
  for (let i = 0; i < entryCount; i++) {
    const { key, value, type } = readEntry(cur, i);
    if (metadata.has(key)) {
      throw formatError(`metadata[${i}] key`, `${JSON.stringify(key)} appears twice`, { key });
    }
    metadata.set(key, value);
    types.set(key, type);
  }
  const alignment = readAlignment(metadata, types);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const info = readTensorInfo(cur, i, bytes.byteLength);
    if (names.has(info.name)) {
      throw formatError(`tensor[${i}] name`, `${JSON.stringify(info.name)} appears twice`, {
        name: info.name,
      });
    }
    names.add(info.name);
    tensors.push(info);
  }

  const dataOffset = alignUp(cur.pos, alignment);
  // A file without tensors may end right after its infos (gguf-py writes no padding then).
  if (tensorCount > 0 && dataOffset > bytes.byteLength) {
    throw formatError(
      "data section",
      `starts at ${dataOffset} (aligned to ${alignment}) past the end of the file (${bytes.byteLength} bytes)`,
      { value: dataOffset, limit: bytes.byteLength },
    );
  }
  checkTensorPlacement(tensors, dataOffset, alignment, bytes.byteLength);
  return new GgufFile({ bytes, version, alignment, dataOffset, metadata, types, tensors });
}

/** Only the fixed 24-byte header: a cheap check that a path holds GGUF at all. */
export function isGguf(bytes: Uint8Array): boolean {
  return bytes.byteLength >= HEADER_BYTES && String.fromCharCode(...bytes.subarray(0, 4)) === GGUF_MAGIC;
}

/**
 * Maps the file at `path` once (`Bun.mmap`, read-only use) and parses it; tensor views
 * point into the mapping, so they stay valid as long as the GgufFile is reachable.
 */
export function openGguf(path: string): GgufFile {
  let bytes: Uint8Array;
  try {
    // mmap refuses empty files; an empty file is simply a truncated GGUF. statSync, not
    // Bun.file().size, which is 0 for a missing file (that must name the path, not "truncated").
    bytes = statSync(path).size === 0 ? new Uint8Array(0) : Bun.mmap(path, { shared: false });
  } catch (e) {
    throw new LlmemError("INVALID_ARGUMENT", `GGUF path ${JSON.stringify(path)}: cannot map it (${e})`, {
      argument: "path",
      path,
    });
  }
  return parseGguf(bytes);
}
