/**
 * Row codecs over byte offsets (so [token][kvHead][headDim] layouts need no copies), built on
 * @llmem/quant-kernels' converters.
 */
import { dequantizeInto, fromBf16, fromF16, quantizeInto, toBf16, toF16 } from "@llmem/quant-kernels";
import { type RowFormat, rowBytes } from "./row-formats.ts";

function u16At(u8: Uint8Array, at: number, n: number): Uint16Array {
  return new Uint16Array(u8.buffer, u8.byteOffset + at, n);
}

/** Decodes one row of `n` values at byte `at` of `u8` into dst[0..n). 16-bit rows must be 2-byte aligned. */
export function decodeRow(f: RowFormat, u8: Uint8Array, at: number, n: number, dst: Float32Array): void {
  const out = dst.length === n ? dst : dst.subarray(0, n);
  switch (f) {
    case "f32":
      if ((u8.byteOffset + at) % 4 === 0) out.set(new Float32Array(u8.buffer, u8.byteOffset + at, n));
      else out.set(new Float32Array(u8.slice(at, at + 4 * n).buffer));
      return;
    case "f16":
      fromF16(u16At(u8, at, n), out);
      return;
    case "bf16":
      fromBf16(u16At(u8, at, n), out);
      return;
    default:
      dequantizeInto(f, u8.subarray(at, at + rowBytes(f, n)), out);
  }
}

/** Encodes src[0..n) as one row in format `f` at byte `at` of `u8` (GGML rounding for block formats). */
export function encodeRow(f: RowFormat, src: Float32Array, n: number, u8: Uint8Array, at: number): void {
  const from = src.length === n ? src : src.subarray(0, n);
  switch (f) {
    case "f32":
      if ((u8.byteOffset + at) % 4 === 0) new Float32Array(u8.buffer, u8.byteOffset + at, n).set(from);
      else u8.set(new Uint8Array(Float32Array.from(from).buffer), at);
      return;
    case "f16":
      toF16(from, u16At(u8, at, n));
      return;
    case "bf16":
      toBf16(from, u16At(u8, at, n));
      return;
    default:
      quantizeInto(f, from, u8.subarray(at, at + rowBytes(f, n)));
  }
}
