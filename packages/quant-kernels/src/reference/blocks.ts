/**
 * The TS reference quantizers and dequantizers, byte-exact with GGML's scalar reference
 * (ggml-quants.c): every f32 operation is rounded with Math.fround in the same order C does.
 *
 * Where GGML's reference is undefined behaviour (a non-finite product converted to an
 * integer, e.g. when 1/d overflows for a block whose amax is around 1e-37) every llmem path
 * stores 0, which is what GGML's reference does in practice on x86-64.
 */
import { f16Values, f32ToF16Bits } from "../half.ts";

const fr = Math.fround;

/** roundf: half away from zero; exact because a f32 plus 0.5 is exact in f64. */
function roundHalfAway(p: number): number {
  return p < 0 ? -Math.floor(-p + 0.5) : Math.floor(p + 0.5);
}

/** The int8 of roundf(p) for |p| < 127.5; anything else (non-finite) → 0. */
function q8(p: number): number {
  return Math.abs(p) < 127.5 ? roundHalfAway(p) : 0;
}

/** min(15, (int8)v) for the 4-bit formats: truncation toward zero; non-finite → 0. */
function q4(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.max(0, Math.min(15, Math.trunc(v)));
}

function putF16(dst: Uint8Array, o: number, x: number): void {
  const h = f32ToF16Bits(x);
  dst[o] = h & 0xff;
  dst[o + 1] = h >>> 8;
}

const getF16 = (src: Uint8Array, o: number): number => f16Values()[src[o]! | (src[o + 1]! << 8)]!;

/** GGML's amax over one block (a NaN is skipped by the comparison, as MAX() does). */
function absMax(src: Float32Array, s: number): number {
  let amax = 0;
  for (let j = 0; j < 32; j++) {
    const v = Math.abs(src[s + j]!);
    if (v > amax) amax = v;
  }
  return amax;
}

export function quantizeQ8_0Blocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * 34;
    const d = fr(absMax(src, s) / 127);
    const id = d ? fr(1 / d) : 0;
    putF16(dst, o, d);
    for (let j = 0; j < 32; j++) dst[o + 2 + j] = q8(fr(src[s + j]! * id)) & 0xff;
  }
}

export function quantizeQ8_1Blocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * 36;
    const d = fr(absMax(src, s) / 127);
    const id = d ? fr(1 / d) : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const q = q8(fr(src[s + j]! * id));
      dst[o + 4 + j] = q & 0xff;
      sum += q;
    }
    putF16(dst, o, d);
    putF16(dst, o + 2, fr(sum * d));
  }
}

export function quantizeQ4_0Blocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * 18;
    // The value of largest magnitude, keeping its sign; the first one wins a tie.
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[s + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    putF16(dst, o, d);
    for (let j = 0; j < 16; j++) {
      const lo = q4(fr(fr(src[s + j]! * id) + 8.5));
      const hi = q4(fr(fr(src[s + 16 + j]! * id) + 8.5));
      dst[o + 2 + j] = lo | (hi << 4);
    }
  }
}

export function quantizeQ4_1Blocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * 20;
    let min = 3.4028234663852886e38;
    let max = -3.4028234663852886e38;
    for (let j = 0; j < 32; j++) {
      const v = src[s + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / 15);
    const id = d ? fr(1 / d) : 0;
    putF16(dst, o, d);
    putF16(dst, o + 2, min);
    for (let j = 0; j < 16; j++) {
      const lo = q4(fr(fr(fr(src[s + j]! - min) * id) + 0.5));
      const hi = q4(fr(fr(fr(src[s + 16 + j]! - min) * id) + 0.5));
      dst[o + 4 + j] = lo | (hi << 4);
    }
  }
}

/** Signed int8 from a byte. */
const i8 = (b: number): number => (b << 24) >> 24;

export function dequantizeQ8_0Blocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 34;
    const d = getF16(src, o);
    for (let j = 0; j < 32; j++) dst[b * 32 + j] = i8(src[o + 2 + j]!) * d;
  }
}

export function dequantizeQ8_1Blocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 36;
    const d = getF16(src, o);
    for (let j = 0; j < 32; j++) dst[b * 32 + j] = i8(src[o + 4 + j]!) * d;
  }
}

export function dequantizeQ4_0Blocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 18;
    const d = getF16(src, o);
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 2 + j]!;
      dst[b * 32 + j] = ((byte & 15) - 8) * d;
      dst[b * 32 + 16 + j] = ((byte >>> 4) - 8) * d;
    }
  }
}

export function dequantizeQ4_1Blocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * 20;
    const d = getF16(src, o);
    const m = getF16(src, o + 2);
    for (let j = 0; j < 16; j++) {
      const byte = src[o + 4 + j]!;
      dst[b * 32 + j] = fr((byte & 15) * d) + m;
      dst[b * 32 + 16 + j] = fr((byte >>> 4) * d) + m;
    }
  }
}
