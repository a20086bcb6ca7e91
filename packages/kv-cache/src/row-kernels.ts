/**
 * Pure-TS attention building blocks over rows in any RowFormat, addressed in bytes inside
 * any typed array (so [token][kvHead][headDim] layouts need no copies), plus the row
 * quantizers the caches use. GGML-compatible block layouts: q8_0 {f16 d; i8 q[32]},
 * q4_0 {f16 d; u8 q[16]} (low nibbles hold values 0..15, high nibbles 16..31),
 * q4_1 {f16 d; f16 m; u8 q[16]}.
 */
import type { TypedArray } from "@llmem/core";
import { QK, type RowFormat } from "./row-formats.ts";

const f16Table = (() => {
  const h = new Float16Array(65536);
  const bits = new Uint16Array(h.buffer);
  for (let i = 0; i < 65536; i++) bits[i] = i;
  return Float32Array.from(h);
})();

const cvt = new Float32Array(1);
const cvtBits = new Uint32Array(cvt.buffer);
const cvtHalf = new Float16Array(1);
const cvtHalfBits = new Uint16Array(cvtHalf.buffer);

export function f16ToF32(bits: number): number {
  return f16Table[bits]!;
}

export function f32ToF16(x: number): number {
  cvtHalf[0] = x;
  return cvtHalfBits[0]!;
}

export function bf16ToF32(bits: number): number {
  cvtBits[0] = bits << 16;
  return cvt[0]!;
}

/** Round to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(x: number): number {
  cvt[0] = x;
  const u = cvtBits[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Decodes one row of `n` values at byte `at` of `u8` into dst[0..n). */
export function decodeRow(f: RowFormat, u8: Uint8Array, at: number, n: number, dst: Float32Array): void {
  switch (f) {
    case "f32": {
      if ((u8.byteOffset + at) % 4 === 0) {
        dst.set(new Float32Array(u8.buffer, u8.byteOffset + at, n));
      } else {
        const dv = new DataView(u8.buffer, u8.byteOffset + at, n * 4);
        for (let i = 0; i < n; i++) dst[i] = dv.getFloat32(i * 4, true);
      }
      return;
    }
    case "f16":
      for (let i = 0; i < n; i++) dst[i] = f16Table[u8[at + 2 * i]! | (u8[at + 2 * i + 1]! << 8)]!;
      return;
    case "bf16":
      for (let i = 0; i < n; i++) dst[i] = bf16ToF32(u8[at + 2 * i]! | (u8[at + 2 * i + 1]! << 8));
      return;
    case "q8_0":
      for (let b = 0, p = at; b < n; b += QK, p += 34) {
        const d = f16Table[u8[p]! | (u8[p + 1]! << 8)]!;
        for (let j = 0; j < QK; j++) dst[b + j] = ((u8[p + 2 + j]! << 24) >> 24) * d;
      }
      return;
    case "q4_0":
      for (let b = 0, p = at; b < n; b += QK, p += 18) {
        const d = f16Table[u8[p]! | (u8[p + 1]! << 8)]!;
        for (let j = 0; j < 16; j++) {
          const q = u8[p + 2 + j]!;
          dst[b + j] = ((q & 15) - 8) * d;
          dst[b + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      return;
    case "q4_1":
      for (let b = 0, p = at; b < n; b += QK, p += 20) {
        const d = f16Table[u8[p]! | (u8[p + 1]! << 8)]!;
        const m = f16Table[u8[p + 2]! | (u8[p + 3]! << 8)]!;
        for (let j = 0; j < 16; j++) {
          const q = u8[p + 4 + j]!;
          dst[b + j] = (q & 15) * d + m;
          dst[b + j + 16] = (q >> 4) * d + m;
        }
      }
      return;
  }
}

function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** Encodes src[0..n) as one row in format `f` at byte `at` of `u8` (GGML rounding for block formats). */
export function encodeRow(f: RowFormat, src: Float32Array, n: number, u8: Uint8Array, at: number): void {
  switch (f) {
    case "f32": {
      if ((u8.byteOffset + at) % 4 === 0) {
        new Float32Array(u8.buffer, u8.byteOffset + at, n).set(src.subarray(0, n));
      } else {
        const dv = new DataView(u8.buffer, u8.byteOffset + at, n * 4);
        for (let i = 0; i < n; i++) dv.setFloat32(i * 4, src[i]!, true);
      }
      return;
    }
    case "f16":
    case "bf16":
      for (let i = 0; i < n; i++) {
        const h = f === "f16" ? f32ToF16(src[i]!) : f32ToBf16(src[i]!);
        u8[at + 2 * i] = h & 255;
        u8[at + 2 * i + 1] = h >> 8;
      }
      return;
    case "q8_0":
      for (let b = 0, p = at; b < n; b += QK, p += 34) {
        let amax = 0;
        for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(src[b + j]!));
        const d = Math.fround(amax / 127);
        const id = d ? Math.fround(1 / d) : 0;
        const h = f32ToF16(d);
        u8[p] = h & 255;
        u8[p + 1] = h >> 8;
        for (let j = 0; j < QK; j++) u8[p + 2 + j] = roundHalfAway(Math.fround(src[b + j]! * id)) & 255;
      }
      return;
    case "q4_0":
      for (let b = 0, p = at; b < n; b += QK, p += 18) {
        let amax = 0;
        let max = 0;
        for (let j = 0; j < QK; j++) {
          const v = src[b + j]!;
          if (Math.abs(v) > amax) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const d = Math.fround(max / -8);
        const id = d ? Math.fround(1 / d) : 0;
        const h = f32ToF16(d);
        u8[p] = h & 255;
        u8[p + 1] = h >> 8;
        for (let j = 0; j < 16; j++) {
          const lo = Math.min(15, Math.trunc(Math.fround(Math.fround(src[b + j]! * id) + 8.5)));
          const hi = Math.min(15, Math.trunc(Math.fround(Math.fround(src[b + j + 16]! * id) + 8.5)));
          u8[p + 2 + j] = lo | (hi << 4);
        }
      }
      return;
    case "q4_1":
      for (let b = 0, p = at; b < n; b += QK, p += 20) {
        let min = Number.POSITIVE_INFINITY;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < QK; j++) {
          const v = src[b + j]!;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        const d = Math.fround((max - min) / 15);
        const id = d ? Math.fround(1 / d) : 0;
        const hd = f32ToF16(d);
        const hm = f32ToF16(min);
        u8[p] = hd & 255;
        u8[p + 1] = hd >> 8;
        u8[p + 2] = hm & 255;
        u8[p + 3] = hm >> 8;
        for (let j = 0; j < 16; j++) {
          const lo = Math.min(15, Math.trunc(Math.fround(Math.fround((src[b + j]! - min) * id) + 0.5)));
          const hi = Math.min(15, Math.trunc(Math.fround(Math.fround((src[b + j + 16]! - min) * id) + 0.5)));
          u8[p + 4 + j] = lo | (hi << 4);
        }
      }
      return;
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
