/**
 * libllmem's quantization, conversion and dot-product kernels (quant-kernels' native path).
 *
 * These sit on decode's hot path, so they keep quant-kernels' inline fast paths (see its README
 * on call overhead): the caller proves with this package's views.ts checks (isPlain*,
 * checkedLength) that every array holds what `count`/`n` needs, then calls in here, and nothing is
 * checked twice. What these own is the rest of the boundary: the format id (from the format
 * table), the symbol, and the return code. Call them only when `quantNative()` is true.
 */
import { describeValue, FORMATS, type FormatInfo, LlmemError, type TypedArray } from "@llmem/core";
import { loaded } from "./loaded.ts";
import { checkLastError, checkU32, LLMEM_EBOUNDS, refusalNaming, throwRefusal } from "./pointers.ts";
import { checkedByteLength, engineByteLength, type TypedArrayKind, typedArrayKind } from "./views.ts";

/** True when the quant kernels run in libllmem (else callers take their TS path). */
export function quantNative(): boolean {
  return loaded() !== null;
}

/** The table's id of a row of the format table (the row itself, not a look-alike object). */
function formatId(format: unknown): number {
  const name = (format as FormatInfo | null)?.name;
  if (
    typeof name !== "string" ||
    !Object.hasOwn(FORMATS, name) ||
    FORMATS[name as keyof typeof FORMATS] !== format
  ) {
    throw new LlmemError("INVALID_ARGUMENT", "format must be a row of the format table (FORMATS.q8_0, …)", {
      argument: "format",
    });
  }
  return (format as FormatInfo).id;
}

const KIND_PROTOS: Readonly<Record<TypedArrayKind, object>> = {
  Float32Array: Float32Array.prototype,
  Uint8Array: Uint8Array.prototype,
  Uint16Array: Uint16Array.prototype,
  Uint32Array: Uint32Array.prototype,
};

/**
 * An operand of the element kind the call is for, else INVALID_ARGUMENT naming it (a
 * Float32Array where fp16 bits are due). Fast test first (a view with the exact prototype, free);
 * otherwise the engine's kind (the intrinsic getter). A view that passes the fast test while being
 * something else (a byte array or a DataView wearing the prototype) is still bounded by C with
 * the engine's byte length, and the refusal then names it (refusalNaming).
 */
function requireKind(name: string, v: unknown, kind: TypedArrayKind): void {
  if (ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === KIND_PROTOS[kind]) return;
  if (typedArrayKind(v) !== kind) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} must be a ${kind}, got ${typedArrayKind(v) ?? describeValue(v)}`,
      { argument: name },
    );
  }
}

/** On C's bounds refusal: names an operand that is not a live view or is short, if one is. */
function refusalIfShort(
  rc: number,
  what: string,
  operands: readonly (readonly [string, unknown, number])[],
): void {
  if (rc !== LLMEM_EBOUNDS) return;
  try {
    refusalNaming(rc, what, "INVALID_ARGUMENT", operands);
  } catch (e) {
    if ((e as LlmemError).details?.argument !== undefined) throw e;
  }
}

function failed(what: string, format: string, count: number, rc: number): never {
  if (rc === LLMEM_EBOUNDS) throwRefusal(rc, `${what} ${format} of ${count} values`, "INVALID_ARGUMENT");
  throw new LlmemError("INVALID_ARGUMENT", `${what} ${format}: libllmem refused ${count} values`, {
    format,
    count,
  });
}

/** Quantizes count values of src into dst's first blocks (format a quant row of the table). */
export function nativeQuantize(format: FormatInfo, src: Float32Array, dst: Uint8Array, count: number): void {
  const id = formatId(format);
  checkU32("count", count);
  requireKind("src", src, "Float32Array");
  requireKind("dst", dst, "Uint8Array");
  const rc = loaded()!.llmem_quantize_checked(
    id,
    src,
    engineByteLength(src, "src"),
    dst,
    engineByteLength(dst, "dst"),
    count,
  );
  if (rc !== 0) {
    const blocks = count / format.blockSize;
    refusalIfShort(rc, `quantize ${format.name} of ${count} values`, [
      ["src", src, 4 * count],
      ["dst", dst, blocks * format.blockBytes],
    ]);
    failed("quantize", format.name, count, rc);
  }
}

/** Dequantizes count values from bytes' first blocks into dst. */
export function nativeDequantize(
  format: FormatInfo,
  bytes: Uint8Array,
  dst: Float32Array,
  count: number,
): void {
  const id = formatId(format);
  checkU32("count", count);
  requireKind("bytes", bytes, "Uint8Array");
  requireKind("dst", dst, "Float32Array");
  const rc = loaded()!.llmem_dequantize_checked(
    id,
    bytes,
    engineByteLength(bytes, "bytes"),
    dst,
    engineByteLength(dst, "dst"),
    count,
  );
  if (rc !== 0) {
    refusalIfShort(rc, `dequantize ${format.name} of ${count} values`, [
      ["bytes", bytes, (count / format.blockSize) * format.blockBytes],
      ["dst", dst, 4 * count],
    ]);
    failed("dequantize", format.name, count, rc);
  }
}

/**
 * The dots run ~10^4 times per token one row at a time, so their checks cost what they must:
 * - sizes go to C as u32 (bun:ffi converts a u64 ~3 ns slower; checked.c), so n and each
 *   operand's bytes stay below 2^32 (no model row comes near);
 * - `fastDot…` takes the case callers almost always have, two Uint8Arrays with the exact
 *   prototype holding the n values, and tells C exactly the bytes it proved are there. The proof
 *   is `Atomics.load` of each operand's last byte: it throws for anything but an integer typed
 *   array (a DataView or a float array dressed in Uint8Array's prototype included), for a
 *   detached buffer and for an index past the engine's own length, whatever `length` or
 *   `byteLength` an object claims, and integer elements are at least a byte each. (~2 ns a view,
 *   where the intrinsic byteLength getter costs ~10 and `Object.hasOwn` ~4; a plain index probe
 *   is free but a dressed DataView can own the probed index.) Anything else, or native off,
 *   returns undefined: the caller validates and calls `nativeDot`, which measures each view
 *   through the engine's intrinsic getter.
 * - the proof is kept for the last x and the last y (a dot loop usually passes the same
 *   activation, or both, again): a view `Atomics.load` accepted once is an integer typed array
 *   for good (an object's kind never changes, whatever its prototype or own properties become),
 *   so at the next call an index probe of its last byte, `v[bytes - 1] !== undefined`, proves the
 *   bytes again: it is answered by the engine's length (0 once detached, less once a resizable
 *   buffer shrank), never by an own property or the prototype, and each element is at least a
 *   byte. That is ~free where `Atomics.load` costs ~3 ns a view, a third of a 256-value dot. The
 *   cache keeps the two views (not copies) alive until other views come, as dotF32's does.
 */
const U32_MAX = 0xffff_ffff;
const U8_PROTO = Uint8Array.prototype;
/** Captured at load: a later `Atomics.load = …` cannot reach the check. */
const atomicsLoad = Atomics.load;

/** n / qk when that is a positive whole number of blocks, n and the blocks' bytes (at most
 * `maxBlockBytes` each) below 2^32; else 0. */
function dotBlocks(n: unknown, qk: number, maxBlockBytes: number): number {
  if (typeof n !== "number" || !(n > 0 && n <= U32_MAX)) return 0;
  const blocks = n / qk;
  return (blocks | 0) === blocks && blocks * maxBlockBytes <= U32_MAX ? blocks : 0;
}

// Sentinels no argument can be (see above): the last x and y whose kind Atomics.load proved.
const NONE_PROVEN: unique symbol = Symbol("none proven");
let provenX: unknown = NONE_PROVEN;
let provenY: unknown = NONE_PROVEN;

/** The engine holds xBytes of x and yBytes of y, x and y Uint8Arrays by prototype when first
 * proven (see above). */
function bothHold(x: unknown, xBytes: number, y: unknown, yBytes: number): boolean {
  if (x === provenX && y === provenY) {
    return (x as Uint8Array)[xBytes - 1] !== undefined && (y as Uint8Array)[yBytes - 1] !== undefined;
  }
  return proveBoth(x, xBytes, y, yBytes);
}

/** bothHold for views not both proven at the last call: prototype and `Atomics.load` (see above). */
function proveBoth(x: unknown, xBytes: number, y: unknown, yBytes: number): boolean {
  if (x !== provenX) {
    if (!(ArrayBuffer.isView(x) && Object.getPrototypeOf(x) === U8_PROTO)) return false;
    try {
      atomicsLoad(x as Uint8Array, xBytes - 1);
    } catch {
      return false;
    }
    provenX = x;
  } else if ((x as Uint8Array)[xBytes - 1] === undefined) return false;
  if (y !== provenY) {
    if (!(ArrayBuffer.isView(y) && Object.getPrototypeOf(y) === U8_PROTO)) return false;
    try {
      atomicsLoad(y as Uint8Array, yBytes - 1);
    } catch {
      return false;
    }
    provenY = y;
  } else if ((y as Uint8Array)[yBytes - 1] === undefined) return false;
  return true;
}

const IQ4_NL_BYTES = FORMATS.iq4_nl.blockBytes;
const IQ4_XS_BYTES = FORMATS.iq4_xs.blockBytes;
const Q2_K_BYTES = FORMATS.q2_K.blockBytes;
const Q3_K_BYTES = FORMATS.q3_K.blockBytes;
const Q4_0_BYTES = FORMATS.q4_0.blockBytes;
const Q4_1_BYTES = FORMATS.q4_1.blockBytes;
const Q4_K_BYTES = FORMATS.q4_K.blockBytes;
const Q5_0_BYTES = FORMATS.q5_0.blockBytes;
const Q5_1_BYTES = FORMATS.q5_1.blockBytes;
const Q5_K_BYTES = FORMATS.q5_K.blockBytes;
const Q6_K_BYTES = FORMATS.q6_K.blockBytes;
const Q8_0_BYTES = FORMATS.q8_0.blockBytes;
const Q8_1_BYTES = FORMATS.q8_1.blockBytes;
const Q8_K_BYTES = FORMATS.q8_K.blockBytes;

/** q8_0·q8_0 of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ8_0(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 32, Math.max(Q8_0_BYTES, Q8_0_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q8_0_BYTES, y, blocks * Q8_0_BYTES)) return undefined;
  const r = l!.llmem_dot_q8_0_q8_0_checked(
    x as Uint8Array,
    blocks * Q8_0_BYTES,
    y as Uint8Array,
    blocks * Q8_0_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q8_0_q8_0");
  return r;
}
/** q4_0·q8_0 of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ4_0Q8_0(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 32, Math.max(Q4_0_BYTES, Q8_0_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q4_0_BYTES, y, blocks * Q8_0_BYTES)) return undefined;
  const r = l!.llmem_dot_q4_0_q8_0_checked(
    x as Uint8Array,
    blocks * Q4_0_BYTES,
    y as Uint8Array,
    blocks * Q8_0_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q4_0_q8_0");
  return r;
}
/** q4_1·q8_1 of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ4_1Q8_1(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 32, Math.max(Q4_1_BYTES, Q8_1_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q4_1_BYTES, y, blocks * Q8_1_BYTES)) return undefined;
  const r = l!.llmem_dot_q4_1_q8_1_checked(
    x as Uint8Array,
    blocks * Q4_1_BYTES,
    y as Uint8Array,
    blocks * Q8_1_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q4_1_q8_1");
  return r;
}
/** q2_K·q8_K of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ2_KQ8_K(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 256, Math.max(Q2_K_BYTES, Q8_K_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q2_K_BYTES, y, blocks * Q8_K_BYTES)) return undefined;
  const r = l!.llmem_dot_q2_k_q8_k_checked(
    x as Uint8Array,
    blocks * Q2_K_BYTES,
    y as Uint8Array,
    blocks * Q8_K_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q2_k_q8_k");
  return r;
}
/** q3_K·q8_K of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ3_KQ8_K(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 256, Math.max(Q3_K_BYTES, Q8_K_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q3_K_BYTES, y, blocks * Q8_K_BYTES)) return undefined;
  const r = l!.llmem_dot_q3_k_q8_k_checked(
    x as Uint8Array,
    blocks * Q3_K_BYTES,
    y as Uint8Array,
    blocks * Q8_K_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q3_k_q8_k");
  return r;
}
/** q4_K·q8_K of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ4_KQ8_K(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 256, Math.max(Q4_K_BYTES, Q8_K_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q4_K_BYTES, y, blocks * Q8_K_BYTES)) return undefined;
  const r = l!.llmem_dot_q4_k_q8_k_checked(
    x as Uint8Array,
    blocks * Q4_K_BYTES,
    y as Uint8Array,
    blocks * Q8_K_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q4_k_q8_k");
  return r;
}
/** q5_K·q8_K of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ5_KQ8_K(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 256, Math.max(Q5_K_BYTES, Q8_K_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q5_K_BYTES, y, blocks * Q8_K_BYTES)) return undefined;
  const r = l!.llmem_dot_q5_k_q8_k_checked(
    x as Uint8Array,
    blocks * Q5_K_BYTES,
    y as Uint8Array,
    blocks * Q8_K_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q5_k_q8_k");
  return r;
}
/** q6_K·q8_K of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ6_KQ8_K(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 256, Math.max(Q6_K_BYTES, Q8_K_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q6_K_BYTES, y, blocks * Q8_K_BYTES)) return undefined;
  const r = l!.llmem_dot_q6_k_q8_k_checked(
    x as Uint8Array,
    blocks * Q6_K_BYTES,
    y as Uint8Array,
    blocks * Q8_K_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q6_k_q8_k");
  return r;
}
/** q5_0·q8_0 of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ5_0Q8_0(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 32, Math.max(Q5_0_BYTES, Q8_0_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q5_0_BYTES, y, blocks * Q8_0_BYTES)) return undefined;
  const r = l!.llmem_dot_q5_0_q8_0_checked(
    x as Uint8Array,
    blocks * Q5_0_BYTES,
    y as Uint8Array,
    blocks * Q8_0_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q5_0_q8_0");
  return r;
}
/** q5_1·q8_1 of n values when both are plain and hold them (else undefined: see above). */
export function fastDotQ5_1Q8_1(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 32, Math.max(Q5_1_BYTES, Q8_1_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * Q5_1_BYTES, y, blocks * Q8_1_BYTES)) return undefined;
  const r = l!.llmem_dot_q5_1_q8_1_checked(
    x as Uint8Array,
    blocks * Q5_1_BYTES,
    y as Uint8Array,
    blocks * Q8_1_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_q5_1_q8_1");
  return r;
}
/** iq4_nl·q8_0 of n values when both are plain and hold them (else undefined: see above). */
export function fastDotIq4NlQ8_0(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 32, Math.max(IQ4_NL_BYTES, Q8_0_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * IQ4_NL_BYTES, y, blocks * Q8_0_BYTES)) return undefined;
  const r = l!.llmem_dot_iq4_nl_q8_0_checked(
    x as Uint8Array,
    blocks * IQ4_NL_BYTES,
    y as Uint8Array,
    blocks * Q8_0_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_iq4_nl_q8_0");
  return r;
}
/** iq4_xs·q8_K of n values when both are plain and hold them (else undefined: see above). */
export function fastDotIq4XsQ8_K(x: unknown, y: unknown, n: unknown): number | undefined {
  const l = loaded();
  const blocks = l === null ? 0 : dotBlocks(n, 256, Math.max(IQ4_XS_BYTES, Q8_K_BYTES));
  if (blocks === 0 || !bothHold(x, blocks * IQ4_XS_BYTES, y, blocks * Q8_K_BYTES)) return undefined;
  const r = l!.llmem_dot_iq4_xs_q8_k_checked(
    x as Uint8Array,
    blocks * IQ4_XS_BYTES,
    y as Uint8Array,
    blocks * Q8_K_BYTES,
    n as number,
  );
  if (Number.isNaN(r)) checkLastError(l!.llmem_last_error, "llmem_dot_iq4_xs_q8_k");
  return r;
}

const DOT_SYMBOLS = {
  q8_0·q8_0: "llmem_dot_q8_0_q8_0_checked",
  q4_0·q8_0: "llmem_dot_q4_0_q8_0_checked",
  q4_1·q8_1: "llmem_dot_q4_1_q8_1_checked",
  q2_K·q8_K: "llmem_dot_q2_k_q8_k_checked",
  q3_K·q8_K: "llmem_dot_q3_k_q8_k_checked",
  q4_K·q8_K: "llmem_dot_q4_k_q8_k_checked",
  q5_K·q8_K: "llmem_dot_q5_k_q8_k_checked",
  q6_K·q8_K: "llmem_dot_q6_k_q8_k_checked",
  q5_0·q8_0: "llmem_dot_q5_0_q8_0_checked",
  q5_1·q8_1: "llmem_dot_q5_1_q8_1_checked",
  iq4_nl·q8_0: "llmem_dot_iq4_nl_q8_0_checked",
  iq4_xs·q8_K: "llmem_dot_iq4_xs_q8_k_checked",
} as const;
export type DotPair = keyof typeof DOT_SYMBOLS;

/**
 * Any dot pair over views the caller has validated (subclasses included), each view's bytes
 * measured through the engine's intrinsic getter and clamped to u32 (a smaller capacity only makes
 * C's check stricter). n must stay below 2^32. Call only when `quantNative()` is true.
 */
export function nativeDot(pair: DotPair, x: Uint8Array, y: Uint8Array, n: number): number {
  if (typeof pair !== "string" || !Object.hasOwn(DOT_SYMBOLS, pair)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `pair must be one of ${Object.keys(DOT_SYMBOLS).join(", ")}, got ${describeValue(pair)}`,
      { argument: "pair" },
    );
  }
  checkU32("n", n);
  const [xf, yf] = pair.split("·") as [keyof typeof FORMATS, keyof typeof FORMATS];
  if (n % FORMATS[xf].blockSize !== 0) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `n must be a whole number of ${xf} blocks (${FORMATS[xf].blockSize}), got ${n}`,
      {
        argument: "n",
      },
    );
  }
  requireKind("x", x, "Uint8Array");
  requireKind("y", y, "Uint8Array");
  const l = loaded()!;
  const symbol = DOT_SYMBOLS[pair];
  const xBytes = Math.min(engineByteLength(x, "x"), U32_MAX);
  const r = l[symbol](x, xBytes, y, Math.min(engineByteLength(y, "y"), U32_MAX), n);
  if (Number.isNaN(r)) {
    const rc = l.llmem_last_error();
    if (rc !== 0) {
      const bytesOf = (f: keyof typeof FORMATS) => (n / FORMATS[f].blockSize) * FORMATS[f].blockBytes;
      refusalNaming(rc, symbol.replace("_checked", ""), "INVALID_ARGUMENT", [
        ["x", x, bytesOf(xf)],
        ["y", y, bytesOf(yf)],
      ]);
    }
  }
  return r;
}

/** x fp16 bits, y f32: measured by the engine's getters (sizes clamped to u32: stricter, never looser). */
export function nativeDotF16F32(x: Uint16Array, y: Float32Array, n: number): number {
  const l = loaded()!;
  if (!(typeof n === "number" && n > 0 && n <= U32_MAX >>> 2 && Number.isInteger(n))) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `n must be a whole number in 1..${U32_MAX >>> 2}, got ${describeValue(n)}`,
      {
        argument: "n",
      },
    );
  }
  requireKind("x", x, "Uint16Array");
  requireKind("y", y, "Float32Array");
  const xb = Math.min(engineByteLength(x, "x"), U32_MAX);
  const r = l.llmem_dot_f16_f32_checked(x, xb, y, Math.min(engineByteLength(y, "y"), U32_MAX), n);
  if (Number.isNaN(r)) {
    const rc = l.llmem_last_error();
    if (rc !== 0) {
      refusalNaming(rc, "llmem_dot_f16_f32", "INVALID_ARGUMENT", [
        ["x", x, 2 * n],
        ["y", y, 4 * n],
      ]);
    }
  }
  return r;
}

export function nativeF32ToF16(src: Float32Array, dst: Uint16Array, n: number): void {
  checkU32("n", n);
  requireKind("src", src, "Float32Array");
  requireKind("dst", dst, "Uint16Array");
  const rc = loaded()!.llmem_f32_to_f16_checked(
    src,
    engineByteLength(src, "src"),
    dst,
    engineByteLength(dst, "dst"),
    n,
  );
  if (rc !== 0) {
    refusalNaming(rc, "llmem_f32_to_f16", "INVALID_ARGUMENT", [
      ["src", src, 4 * n],
      ["dst", dst, 2 * n],
    ]);
  }
}
export function nativeF16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
  checkU32("n", n);
  requireKind("src", src, "Uint16Array");
  requireKind("dst", dst, "Float32Array");
  const rc = loaded()!.llmem_f16_to_f32_checked(
    src,
    engineByteLength(src, "src"),
    dst,
    engineByteLength(dst, "dst"),
    n,
  );
  if (rc !== 0) {
    refusalNaming(rc, "llmem_f16_to_f32", "INVALID_ARGUMENT", [
      ["src", src, 2 * n],
      ["dst", dst, 4 * n],
    ]);
  }
}
export function nativeF32ToBf16(src: Float32Array, dst: Uint16Array, n: number): void {
  checkU32("n", n);
  requireKind("src", src, "Float32Array");
  requireKind("dst", dst, "Uint16Array");
  const rc = loaded()!.llmem_f32_to_bf16_checked(
    src,
    engineByteLength(src, "src"),
    dst,
    engineByteLength(dst, "dst"),
    n,
  );
  if (rc !== 0) {
    refusalNaming(rc, "llmem_f32_to_bf16", "INVALID_ARGUMENT", [
      ["src", src, 4 * n],
      ["dst", dst, 2 * n],
    ]);
  }
}
export function nativeBf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
  checkU32("n", n);
  requireKind("src", src, "Uint16Array");
  requireKind("dst", dst, "Float32Array");
  const rc = loaded()!.llmem_bf16_to_f32_checked(
    src,
    engineByteLength(src, "src"),
    dst,
    engineByteLength(dst, "dst"),
    n,
  );
  if (rc !== 0) {
    refusalNaming(rc, "llmem_bf16_to_f32", "INVALID_ARGUMENT", [
      ["src", src, 2 * n],
      ["dst", dst, 4 * n],
    ]);
  }
}

/** Reads every byte of `bytes` once (the bandwidth baseline the benchmarks compare matvec with). */
export function nativeReadBytes(bytes: Uint8Array): bigint {
  const l = loaded()!;
  const sum = l.llmem_read_bytes_checked(bytes, checkedByteLength("bytes", bytes), bytes.byteLength);
  if (sum === 0n) checkLastError(l.llmem_last_error, "llmem_read_bytes");
  return BigInt(sum);
}

/** Copies `bytes` bytes from src to dst (memcpy: the baseline the benchmarks compare with). */
export function nativeCopy(dst: TypedArray, src: TypedArray, bytes: number): void {
  const dstBytes = checkedByteLength("dst", dst);
  const srcBytes = checkedByteLength("src", src);
  const room = Math.min(dstBytes, srcBytes);
  if (!(Number.isInteger(bytes) && bytes >= 0 && bytes <= room)) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `bytes ${describeValue(bytes)} exceeds the ${room} both views hold`,
      {
        argument: "bytes",
      },
    );
  }
  if (bytes > 0) {
    const rc = loaded()!.llmem_copy_checked(dst, dstBytes, src, srcBytes, bytes);
    if (rc !== 0) throwRefusal(rc, "llmem_copy", "INVALID_ARGUMENT");
  }
}
