/**
 * libllmem's quantization, conversion and dot-product kernels (quant-kernels' native path).
 *
 * These sit on decode's hot path, so they keep quant-kernels' inline fast paths (see its README
 * on call overhead): the caller proves with this package's views.ts checks (isPlain*,
 * checkedLength) that every array holds what `count`/`n` needs, then calls in here, and nothing is
 * checked twice. What these own is the rest of the boundary: the format id (from the format
 * table), the symbol, and the return code. Call them only when `quantNative()` is true.
 */
import { type FormatInfo, LlmemError, type TypedArray } from "@llmem/core";
import { loaded } from "./loaded.ts";
import { checkLastError, LLMEM_EBOUNDS, throwRefusal } from "./pointers.ts";
import { checkedByteLength, engineByteLength } from "./views.ts";

/** True when the quant kernels run in libllmem (else callers take their TS path). */
export function quantNative(): boolean {
  return loaded() !== null;
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
  const rc = loaded()!.llmem_quantize_checked(
    format.id,
    src,
    engineByteLength(src),
    dst,
    engineByteLength(dst),
    count,
  );
  if (rc !== 0) failed("quantize", format.name, count, rc);
}

/** Dequantizes count values from bytes' first blocks into dst. */
export function nativeDequantize(
  format: FormatInfo,
  bytes: Uint8Array,
  dst: Float32Array,
  count: number,
): void {
  const rc = loaded()!.llmem_dequantize_checked(
    format.id,
    bytes,
    engineByteLength(bytes),
    dst,
    engineByteLength(dst),
    count,
  );
  if (rc !== 0) failed("dequantize", format.name, count, rc);
}

export function nativeDotQ8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q8_0_q8_0_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q8_0_q8_0");
  return r;
}
export function nativeDotQ4_0Q8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q4_0_q8_0_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q4_0_q8_0");
  return r;
}
export function nativeDotQ4_1Q8_1(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q4_1_q8_1_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q4_1_q8_1");
  return r;
}
export function nativeDotQ2_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q2_k_q8_k_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q2_k_q8_k");
  return r;
}
export function nativeDotQ4_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q4_k_q8_k_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q4_k_q8_k");
  return r;
}
export function nativeDotQ5_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q5_k_q8_k_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q5_k_q8_k");
  return r;
}
export function nativeDotQ6_KQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q6_k_q8_k_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q6_k_q8_k");
  return r;
}
export function nativeDotQ5_0Q8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q5_0_q8_0_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q5_0_q8_0");
  return r;
}
export function nativeDotQ5_1Q8_1(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_q5_1_q8_1_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_q5_1_q8_1");
  return r;
}
export function nativeDotIq4NlQ8_0(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_iq4_nl_q8_0_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_iq4_nl_q8_0");
  return r;
}
export function nativeDotIq4XsQ8_K(x: Uint8Array, y: Uint8Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_iq4_xs_q8_k_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_iq4_xs_q8_k");
  return r;
}
export function nativeDotF16F32(x: Uint16Array, y: Float32Array, n: number): number {
  const l = loaded()!;
  const r = l.llmem_dot_f16_f32_checked(x, engineByteLength(x), y, engineByteLength(y), n);
  if (Number.isNaN(r)) checkLastError(l.llmem_last_error, "llmem_dot_f16_f32");
  return r;
}

export function nativeF32ToF16(src: Float32Array, dst: Uint16Array, n: number): void {
  const rc = loaded()!.llmem_f32_to_f16_checked(src, engineByteLength(src), dst, engineByteLength(dst), n);
  if (rc !== 0) throwRefusal(rc, "llmem_f32_to_f16", "INVALID_ARGUMENT");
}
export function nativeF16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
  const rc = loaded()!.llmem_f16_to_f32_checked(src, engineByteLength(src), dst, engineByteLength(dst), n);
  if (rc !== 0) throwRefusal(rc, "llmem_f16_to_f32", "INVALID_ARGUMENT");
}
export function nativeF32ToBf16(src: Float32Array, dst: Uint16Array, n: number): void {
  const rc = loaded()!.llmem_f32_to_bf16_checked(src, engineByteLength(src), dst, engineByteLength(dst), n);
  if (rc !== 0) throwRefusal(rc, "llmem_f32_to_bf16", "INVALID_ARGUMENT");
}
export function nativeBf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
  const rc = loaded()!.llmem_bf16_to_f32_checked(src, engineByteLength(src), dst, engineByteLength(dst), n);
  if (rc !== 0) throwRefusal(rc, "llmem_bf16_to_f32", "INVALID_ARGUMENT");
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
    throw new LlmemError("OUT_OF_BOUNDS", `bytes ${bytes} exceeds the ${room} both views hold`, {
      argument: "bytes",
    });
  }
  if (bytes > 0) {
    const rc = loaded()!.llmem_copy_checked(dst, dstBytes, src, srcBytes, bytes);
    if (rc !== 0) throwRefusal(rc, "llmem_copy", "INVALID_ARGUMENT");
  }
}
