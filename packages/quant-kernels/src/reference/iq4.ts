/**
 * The TS reference for GGML's IQ4_NL { fp16 d; qs[16] } (18 B) per 32 values: each nibble indexes
 * a fixed table of 16 non-linear int8 levels, x = d · level. Byte-exact with GGML's
 * quantize_row_iq4_nl_ref and bit-exact with libllmem's scalar kernels (native/src/quant/iq4.c):
 * f32 operations rounded with Math.fround in C's order. Its dot pairs with Q8_0.
 */
import { f16Values, f32ToF16Bits } from "../half.ts";

const fr = Math.fround;
const i8 = (b: number): number => (b << 24) >> 24;
export const IQ4_NL_BYTES = 18;

/** GGML's kvalues_iq4nl: denser near 0, where weights concentrate. */
const LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] as const;

const getF16 = (b: Uint8Array, o: number): number => f16Values()[b[o]! | (b[o + 1]! << 8)]!;
function putF16(b: Uint8Array, o: number, x: number): void {
  const h = f32ToF16Bits(x);
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
}

/** Index of the level nearest v (ties to the lower) by bisection; out of range and NaN clamp as the C. */
function nearest(v: number): number {
  if (v <= LEVELS[0]) return 0;
  if (v >= LEVELS[15]) return 15;
  let lo = 0;
  let hi = 15;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v < LEVELS[mid]!) hi = mid;
    else lo = mid;
  }
  return fr(v - LEVELS[hi - 1]!) < fr(LEVELS[hi]! - v) ? hi - 1 : hi;
}

export function quantizeIq4NlBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  // A block whose |x| is all below 1e-15 keeps d = 0 and the previous block's indices, as GGML's
  // reference (its index buffer is not reset); before any block, index 8 (see iq4.c).
  const L = new Uint8Array(32).fill(8);
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * IQ4_NL_BYTES;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(src[s + j]!);
      if (a > amax) {
        amax = a;
        max = src[s + j]!;
      }
    }
    let d = 0;
    if (amax >= fr(1e-15)) {
      d = fr(max / LEVELS[0]);
      const id = fr(1 / d);
      let sumqx = 0;
      let sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const x = src[s + j]!;
        const l = nearest(fr(id * x));
        L[j] = l;
        const q = LEVELS[l]!;
        const w = fr(x * x);
        sumqx = fr(sumqx + fr(fr(w * q) * x));
        sumq2 = fr(sumq2 + fr(fr(w * q) * q));
      }
      d = fr(sumqx / sumq2);
    }
    putF16(dst, o, d);
    for (let j = 0; j < 16; j++) dst[o + 2 + j] = L[j]! | (L[j + 16]! << 4);
  }
}

export function dequantizeIq4NlBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * IQ4_NL_BYTES;
    const d = getF16(src, o);
    for (let j = 0; j < 16; j++) {
      dst[b * 32 + j] = fr(d * LEVELS[src[o + 2 + j]! & 0x0f]!);
      dst[b * 32 + j + 16] = fr(d * LEVELS[src[o + 2 + j]! >> 4]!);
    }
  }
}

/** Σ over nb blocks, x IQ4_NL from byte xo, y Q8_0 from byte yo: per block sum + sumi·(dx·dy). */
export function dotIq4NlQ8_0Ref(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let sum = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * IQ4_NL_BYTES;
    const oy = yo + b * 34;
    let sumi = 0;
    for (let j = 0; j < 16; j++) {
      const q = x[ox + 2 + j]!;
      sumi += LEVELS[q & 0x0f]! * i8(y[oy + 2 + j]!) + LEVELS[q >> 4]! * i8(y[oy + 18 + j]!);
    }
    sum = fr(sum + fr(sumi * fr(getF16(x, ox) * getF16(y, oy))));
  }
  return sum;
}
