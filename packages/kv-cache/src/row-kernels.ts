/**
 * Row codecs over byte offsets (so [token][kvHead][headDim] layouts need no copies), built on
 * @llmem/quant-kernels' converters, and generic decode-then-dot attention rows for bf16,
 * the one tail format the quant-kernels attention building blocks do not read.
 */
import type { TypedArray } from "@llmem/core";
import { dequantizeInto, fromBf16, fromF16, quantizeInto, toBf16, toF16 } from "@llmem/quant-kernels";
import { type RowFormat, rowBytes } from "./row-formats.ts";

function u16At(u8: Uint8Array, at: number, n: number): Uint16Array {
  return new Uint16Array(u8.buffer, u8.byteOffset + at, n);
}

function bytesOf(a: TypedArray): Uint8Array {
  return a instanceof Uint8Array ? a : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
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

export interface ScoresOptions {
  count: number;
  headDim: number;
  offsetBytes: number;
  strideBytes: number;
  scale: number;
}

export interface WeightedSumOptions {
  count: number;
  headDim: number;
  offsetBytes: number;
  strideBytes: number;
  weightsOffset?: number;
}

let rowScratch = new Float32Array(256);
function scratch(n: number): Float32Array {
  if (rowScratch.length < n) rowScratch = new Float32Array(n);
  return rowScratch;
}

/** out[outOffset + t] = scale · (query · key_t), key_t at offsetBytes + t·strideBytes. Trusts its arguments. */
export function scoresTs(
  f: RowFormat,
  query: Float32Array,
  keys: TypedArray,
  o: ScoresOptions,
  out: Float32Array,
  outOffset = 0,
): void {
  const u8 = bytesOf(keys);
  const n = o.headDim;
  const row = scratch(n);
  for (let t = 0; t < o.count; t++) {
    decodeRow(f, u8, o.offsetBytes + t * o.strideBytes, n, row);
    let s = 0;
    for (let d = 0; d < n; d++) s += query[d]! * row[d]!;
    out[outOffset + t] = o.scale * s;
  }
}

/** out[d] += Σ_t weights[weightsOffset + t] · value_t[d]. Trusts its arguments. */
export function weightedSumTs(
  f: RowFormat,
  weights: Float32Array,
  values: TypedArray,
  o: WeightedSumOptions,
  out: Float32Array,
): void {
  const u8 = bytesOf(values);
  const n = o.headDim;
  const row = scratch(n);
  const w0 = o.weightsOffset ?? 0;
  for (let t = 0; t < o.count; t++) {
    const w = weights[w0 + t]!;
    if (w === 0) continue;
    decodeRow(f, u8, o.offsetBytes + t * o.strideBytes, n, row);
    for (let d = 0; d < n; d++) out[d]! += w * row[d]!;
  }
}
