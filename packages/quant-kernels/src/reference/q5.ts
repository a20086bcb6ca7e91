/**
 * The TS reference for GGML's Q5_0 { fp16 d; qh[4]; qs[16] } (22 B) and Q5_1 { fp16 d; fp16 m;
 * qh[4]; qs[16] } (24 B) per 32 values, byte-exact with GGML's quantize_row_q5_*_ref and
 * bit-exact with libllmem's scalar kernels (native/src/quant/q5.c): f32 operations rounded with
 * Math.fround in C's order. Dots pair them with Q8_0 and Q8_1.
 */
import { f16Values, f32ToF16Bits } from "../half.ts";

const fr = Math.fround;
const i8 = (b: number): number => (b << 24) >> 24;
export const Q5_0_BYTES = 22;
export const Q5_1_BYTES = 24;

const getF16 = (b: Uint8Array, o: number): number => f16Values()[b[o]! | (b[o + 1]! << 8)]!;
function putF16(b: Uint8Array, o: number, x: number): void {
  const h = f32ToF16Bits(x);
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
}

/** GGML's (int8_t) cast truncating toward zero, clamped to 0..31; non-finite → 0 (as the C). */
function q5Trunc(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.max(0, Math.min(31, Math.trunc(Math.max(-1, Math.min(32, v)))));
}

const L = new Uint8Array(32);
function pack(dst: Uint8Array, qhAt: number, qsAt: number): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    dst[qsAt + j] = (L[j]! & 0x0f) | ((L[j + 16]! & 0x0f) << 4);
    qh |= ((L[j]! & 0x10) >> 4) << j;
    qh |= ((L[j + 16]! & 0x10) >> 4) << (j + 16);
  }
  for (let i = 0; i < 4; i++) dst[qhAt + i] = (qh >>> (8 * i)) & 0xff;
}

/** The 5-bit level of value e of the block whose qh is at h and nibbles at q. */
function level(b: Uint8Array, h: number, q: number, e: number): number {
  const nib = e < 16 ? b[q + e]! & 0x0f : b[q + e - 16]! >> 4;
  return nib | (((b[h + (e >> 3)]! >> (e & 7)) & 1) << 4);
}

export function quantizeQ5_0Blocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * Q5_0_BYTES;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(src[s + j]!);
      if (amax < a) {
        amax = a;
        max = src[s + j]!;
      }
    }
    const d = fr(max / -16);
    const id = d !== 0 ? fr(1 / d) : 0;
    putF16(dst, o, d);
    for (let j = 0; j < 32; j++) L[j] = q5Trunc(fr(fr(src[s + j]! * id) + 16.5));
    pack(dst, o + 2, o + 6);
  }
}

export function quantizeQ5_1Blocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  const FLT_MAX = 3.4028234663852886e38;
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * Q5_1_BYTES;
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = 0; j < 32; j++) {
      const v = src[s + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / 31);
    const id = d !== 0 ? fr(1 / d) : 0;
    putF16(dst, o, d);
    putF16(dst, o + 2, min);
    for (let j = 0; j < 32; j++) L[j] = q5Trunc(fr(fr(fr(src[s + j]! - min) * id) + 0.5));
    pack(dst, o + 4, o + 8);
  }
}

export function dequantizeQ5_0Blocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_0_BYTES;
    const d = getF16(src, o);
    for (let e = 0; e < 32; e++) dst[b * 32 + e] = fr((level(src, o + 2, o + 6, e) - 16) * d);
  }
}

export function dequantizeQ5_1Blocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_1_BYTES;
    const d = getF16(src, o);
    const m = getF16(src, o + 2);
    for (let e = 0; e < 32; e++) dst[b * 32 + e] = fr(fr(level(src, o + 4, o + 8, e) * d) + m);
  }
}

/** Σ over nb blocks, x Q5_0 from byte xo, y Q8_0 from byte yo: per block sum + sumi·(dx·dy). */
export function dotQ5_0Q8_0Ref(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let sum = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * Q5_0_BYTES;
    const oy = yo + b * 34;
    let sumi = 0;
    for (let e = 0; e < 32; e++) sumi += (level(x, ox + 2, ox + 6, e) - 16) * i8(y[oy + 2 + e]!);
    sum = fr(sum + fr(sumi * fr(getF16(x, ox) * getF16(y, oy))));
  }
  return sum;
}

/** Σ over nb blocks, x Q5_1, y Q8_1: per block sum + ((dx·dy)·sumi + mx·sy). */
export function dotQ5_1Q8_1Ref(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let sum = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * Q5_1_BYTES;
    const oy = yo + b * 36;
    let sumi = 0;
    for (let e = 0; e < 32; e++) sumi += level(x, ox + 4, ox + 8, e) * i8(y[oy + 4 + e]!);
    const scaled = fr(fr(getF16(x, ox) * getF16(y, oy)) * sumi);
    sum = fr(sum + fr(scaled + fr(getF16(x, ox + 2) * getF16(y, oy + 2))));
  }
  return sum;
}
