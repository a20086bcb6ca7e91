/**
 * THE FORMAT TABLE on the TS side: one row per storage format, the same rows as libllmem's
 * `llmem_formats` (native/src/formats.c). Every package reads format facts (ids, block
 * geometry, which operations take a format) from here (directly, or re-exported by
 * @llmem/native); packages/native/test/formats.test.ts checks each row against the C table
 * through `llmem_format_describe`, so the two cannot drift. It lives in core, the bottom layer,
 * so packages that never call C (gguf, stores) read the same rows.
 *
 * HOW TO ADD A FORMAT: add its row to native/src/formats.c (see the steps at the top of that
 * file), then ONE row to `FORMAT_ROWS` below with the same id, name and geometry:
 * - `vecDot`: the format its dot product's second operand (the activation) is in, or null;
 * - `quant`: quantize/dequantize accept it; `row`: K/V rows (attention, KV caches) may be in it;
 *   `matrix`: matvec weights may be in it. The derived types (`QuantFormat`, `RowFormat`,
 *   `MatrixFormat`) and lists follow from these flags; nothing else lists formats.
 * Then its TS reference kernels and tests (packages/quant-kernels).
 */

import { LlmemError } from "./errors.ts";
import { checkOneOf, checkSize, describeValue } from "./validate.ts";

const FORMAT_ROWS = [
  { id: 0, name: "f32", blockSize: 1, blockBytes: 4, vecDot: "f32", quant: false, row: true, matrix: true },
  { id: 1, name: "f16", blockSize: 1, blockBytes: 2, vecDot: "f32", quant: false, row: true, matrix: true },
  { id: 2, name: "bf16", blockSize: 1, blockBytes: 2, vecDot: null, quant: false, row: true, matrix: false },
  {
    id: 3,
    name: "q8_0",
    blockSize: 32,
    blockBytes: 34,
    vecDot: "q8_0",
    quant: true,
    row: true,
    matrix: true,
  },
  {
    id: 4,
    name: "q4_0",
    blockSize: 32,
    blockBytes: 18,
    vecDot: "q8_0",
    quant: true,
    row: true,
    matrix: true,
  },
  {
    id: 5,
    name: "q4_1",
    blockSize: 32,
    blockBytes: 20,
    vecDot: "q8_1",
    quant: true,
    row: true,
    matrix: false,
  },
  {
    id: 6,
    name: "q8_1",
    blockSize: 32,
    blockBytes: 36,
    vecDot: null,
    quant: true,
    row: false,
    matrix: false,
  },
  // GGML's K-quants (256-value super-blocks), named as ggml spells them (lower case accepted by
  // formatInfo). q8_K is the activation side of their dots, never a weight.
  {
    id: 7,
    name: "q8_K",
    blockSize: 256,
    blockBytes: 292,
    vecDot: null,
    quant: true,
    row: false,
    matrix: false,
  },
  {
    id: 8,
    name: "q4_K",
    blockSize: 256,
    blockBytes: 144,
    vecDot: "q8_K",
    quant: true,
    row: false,
    matrix: true,
  },
  {
    id: 9,
    name: "q6_K",
    blockSize: 256,
    blockBytes: 210,
    vecDot: "q8_K",
    quant: true,
    row: false,
    matrix: true,
  },
  // GGML's 5-bit formats (32 values): q5_0 dots with q8_0, q5_1 with q8_1.
  {
    id: 10,
    name: "q5_0",
    blockSize: 32,
    blockBytes: 22,
    vecDot: "q8_0",
    quant: true,
    row: false,
    matrix: true,
  },
  {
    id: 11,
    name: "q5_1",
    blockSize: 32,
    blockBytes: 24,
    vecDot: "q8_1",
    quant: true,
    row: false,
    matrix: true,
  },
  // GGML's q5_K: q4_K plus a plane of fifth bits; a weight format dotted with q8_K.
  {
    id: 12,
    name: "q5_K",
    blockSize: 256,
    blockBytes: 176,
    vecDot: "q8_K",
    quant: true,
    row: false,
    matrix: true,
  },
  // GGML's 4-bit non-linear format (32 values, nibbles index a table of 16 levels): dots with q8_0.
  {
    id: 13,
    name: "iq4_nl",
    blockSize: 32,
    blockBytes: 18,
    vecDot: "q8_0",
    quant: true,
    row: false,
    matrix: true,
  },
  // GGML's iq4_xs: iq4_nl's levels under 6-bit scales of 32-value sub-blocks in 256-value
  // super-blocks; a weight format dotted with q8_K.
  {
    id: 14,
    name: "iq4_xs",
    blockSize: 256,
    blockBytes: 136,
    vecDot: "q8_K",
    quant: true,
    row: false,
    matrix: true,
  },
  // GGML's q2_K: 16 sub-blocks of 16 with 4-bit scales and mins, 2-bit levels; dotted with q8_K.
  {
    id: 15,
    name: "q2_K",
    blockSize: 256,
    blockBytes: 84,
    vecDot: "q8_K",
    quant: true,
    row: false,
    matrix: true,
  },
  // GGML's q3_K: 16 sub-blocks of 16 with signed 6-bit scales, 3-bit levels (2 bits plus a
  // high-bit plane); dotted with q8_K.
  {
    id: 16,
    name: "q3_K",
    blockSize: 256,
    blockBytes: 110,
    vecDot: "q8_K",
    quant: true,
    row: false,
    matrix: true,
  },
] as const;

type Rows = (typeof FORMAT_ROWS)[number];
/** Every storage format's name. */
export type Format = Rows["name"];
/** Formats quantize/dequantize take (block formats). */
export type QuantFormat = Extract<Rows, { quant: true }>["name"];
/** Formats attention rows (keys, values) can be stored in. */
export type RowFormat = Extract<Rows, { row: true }>["name"];
/** Formats a weight matrix can be stored in. */
export type MatrixFormat = Extract<Rows, { matrix: true }>["name"];
/** The plain element formats (one value per element). */
export type FloatFormat = Extract<Rows, { blockSize: 1 }>["name"];

export interface FormatInfo {
  /** `enum llmem_format` id. */
  readonly id: number;
  readonly name: Format;
  /** Values per block (1 for plain element formats). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** The format the dot product's activation operand is in, or null when the format has no dot. */
  readonly vecDot: Format | null;
  readonly quant: boolean;
  readonly row: boolean;
  readonly matrix: boolean;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The rows in id order (index = `enum llmem_format` id). */
export const FORMAT_LIST: readonly FormatInfo[] = deepFreeze(FORMAT_ROWS.map((r) => ({ ...r })));

/**
 * The rows by name, in a frozen prototype-less object: the hot path finds a row with one lookup,
 * and names like "toString" or "__proto__" find nothing.
 */
export const FORMATS: Readonly<Record<Format, FormatInfo>> = Object.freeze(
  Object.assign(Object.create(null), Object.fromEntries(FORMAT_LIST.map((r) => [r.name, r]))),
);

const names = <F extends Format>(keep: (r: FormatInfo) => boolean) =>
  Object.freeze(FORMAT_LIST.filter(keep).map((r) => r.name as F));
export const ALL_FORMATS: readonly Format[] = names((r) => r.id >= 0);
export const QUANT_FORMATS: readonly QuantFormat[] = names<QuantFormat>((r) => r.quant);
export const ROW_FORMATS: readonly RowFormat[] = names<RowFormat>((r) => r.row);
export const MATRIX_FORMATS: readonly MatrixFormat[] = names<MatrixFormat>((r) => r.matrix);

/**
 * `value` when it is a row format's name as the table spells it, else the INVALID_ARGUMENT of
 * `checkOneOf(name, value, ROW_FORMATS)`. One lookup in FORMATS (prototype-less: "__proto__"
 * finds nothing) instead of `ROW_FORMATS.includes`: JSC searches a frozen array slowly (~60 ns
 * measured, where the lookup is ~2), and attention checks the format at every call.
 */
export function checkRowFormat(value: unknown, name = "format"): RowFormat {
  if (typeof value === "string" && (FORMATS as Record<string, FormatInfo | undefined>)[value]?.row === true) {
    return value as RowFormat;
  }
  return checkOneOf(name, value, ROW_FORMATS);
}

/** Lower-case spellings of the names ggml writes with capitals ("q4_k" for "q4_K"). */
const LOWER_CASE: Readonly<Record<string, FormatInfo | undefined>> = Object.freeze(
  Object.assign(
    Object.create(null),
    Object.fromEntries(
      FORMAT_LIST.filter((r) => r.name !== r.name.toLowerCase()).map((r) => [r.name.toLowerCase(), r]),
    ),
  ),
);

/**
 * The row of `format`, or undefined when it is not a format name (never throws). Names are as
 * ggml spells them ("q4_K"); the all-lower-case spelling ("q4_k") is accepted too.
 */
export function formatInfo(format: unknown): FormatInfo | undefined {
  if (typeof format !== "string") return undefined;
  return (FORMATS as Record<string, FormatInfo | undefined>)[format] ?? LOWER_CASE[format];
}

/** The canonical name of `format` when it names a format in any accepted spelling, else `format` unchanged. */
export function canonicalFormat(format: unknown): unknown {
  return formatInfo(format)?.name ?? format;
}

/** True for formats that pack several values per block. */
export function isBlockFormat(format: Format): boolean {
  return FORMATS[format].blockSize > 1;
}

/** Bytes of `count` values of `format` (count a whole number of its blocks). */
export function bytesFor(format: Format, count: number): number {
  // typeof first: Object.hasOwn turns any other key into a string, running its toString (a
  // detached view's throws a TypeError).
  const info = typeof format === "string" && Object.hasOwn(FORMATS, format) ? FORMATS[format] : undefined;
  if (info === undefined) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `format must be one of ${FORMAT_LIST.map((r) => r.name).join(", ")}, got ${describeValue(format)}`,
      {
        argument: "format",
        value: format,
      },
    );
  }
  checkSize("count", count);
  if (count % info.blockSize !== 0) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `count ${count} must be a whole number of ${format} blocks (${info.blockSize} values)`,
      { argument: "count", value: count },
    );
  }
  return (count / info.blockSize) * info.blockBytes;
}

/** @deprecated The old name of FORMATS (same object); use FORMATS. */
export const DTYPES = FORMATS;
/** @deprecated The old name of Format; use Format. */
export type DType = Format;
