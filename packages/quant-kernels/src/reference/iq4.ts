/**
 * The TS reference for GGML's two 4-bit non-linear formats, whose nibbles index a fixed table of
 * 16 non-linear int8 levels (layouts in native/src/quant/iq4.c):
 * - IQ4_NL { fp16 d; qs[16] } (18 B) per 32 values, x = d · level; its dot pairs with Q8_0;
 * - IQ4_XS { fp16 d; u16 scales_h; u8 scales_l[4]; qs[128] } (136 B) per 256 values, 8
 *   sub-blocks of 32 with 6-bit scales ls, x = d · (ls - 32) · level; its dot pairs with Q8_K.
 * Byte-exact with GGML's quantize_row_iq4_nl_ref / quantize_row_iq4_xs_ref and bit-exact with
 * libllmem's scalar kernels: f32 operations rounded with Math.fround in C's order.
 */
import { f16Values, f32ToF16Bits } from "../half.ts";
import { getF32, nearestInt, Q8_K_BYTES, QK_K } from "./kquants.ts";

const fr = Math.fround;
const i8 = (b: number): number => (b << 24) >> 24;
export const IQ4_NL_BYTES = 18;
export const IQ4_XS_BYTES = 136;

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

/** Σ w·q·x and Σ w·q·q (w = x²) of the 32 values at src[s..] indexed at inverse scale id (indices to L if given). */
const sums = { qx: 0, q2: 0 };
function iq4Sums(src: Float32Array, s: number, id: number, L: Uint8Array | null): void {
  let sumqx = 0;
  let sumq2 = 0;
  for (let j = 0; j < 32; j++) {
    const x = src[s + j]!;
    const l = nearest(fr(id * x));
    if (L !== null) L[j] = l;
    const q = LEVELS[l]!;
    const w = fr(x * x);
    sumqx = fr(sumqx + fr(fr(w * q) * x));
    sumq2 = fr(sumq2 + fr(fr(w * q) * q));
  }
  sums.qx = sumqx;
  sums.q2 = sumq2;
}

/**
 * GGML's quantize_row_iq4_nl_impl fit of one 32-value block with largest-magnitude value max: a
 * pass at d = max/-127 (ntry <= 0) or max/127 (ntry > 0), its least-squares d (indices to L),
 * then for ntry > 0 the inverse scales (t - 127)/max, t in -ntry..ntry, keeping the best.
 */
function fit32(src: Float32Array, s: number, max: number, ntry: number, L: Uint8Array): number {
  let d = ntry > 0 ? fr(-max / LEVELS[0]) : fr(max / LEVELS[0]);
  iq4Sums(src, s, fr(1 / d), L);
  d = fr(sums.qx / sums.q2);
  let best = fr(d * sums.qx);
  for (let itry = -ntry; itry <= ntry; itry++) {
    iq4Sums(src, s, fr((itry + LEVELS[0]) / max), null);
    if (sums.q2 > 0 && fr(sums.qx * sums.qx) > fr(best * sums.q2)) {
      d = fr(sums.qx / sums.q2);
      best = fr(d * sums.qx);
    }
  }
  return d;
}

/** The first value of largest magnitude among src[s..s+31] (its magnitude in maxOf.amax). */
const maxOf = { amax: 0 };
function max32(src: Float32Array, s: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const a = Math.abs(src[s + j]!);
    if (a > amax) {
      amax = a;
      max = src[s + j]!;
    }
  }
  maxOf.amax = amax;
  return max;
}

const GROUP_MAX_EPS = fr(1e-15);

export function quantizeIq4NlBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  // A block whose |x| is all below 1e-15 keeps d = 0 and the previous block's indices, as GGML's
  // reference (its index buffer is not reset); before any block, index 8 (see iq4.c).
  const L = new Uint8Array(32).fill(8);
  for (let b = 0; b < nb; b++) {
    const s = b * 32;
    const o = b * IQ4_NL_BYTES;
    const max = max32(src, s);
    const d = maxOf.amax >= GROUP_MAX_EPS ? fit32(src, s, max, -1, L) : 0;
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

// ---- IQ4_XS ----

/** Sub-block ib's 6-bit scale of the IQ4_XS block at byte o (the scale is d · (ls - 32)). */
const xsScale = (b: Uint8Array, o: number, ib: number): number =>
  ((b[o + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 0x0f) |
  ((((b[o + 2]! | (b[o + 3]! << 8)) >> (2 * ib)) & 3) << 4);

const xsScales = new Float32Array(8);
const xsUnused = new Uint8Array(32);

export function quantizeIq4XsBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * QK_K;
    const o = b * IQ4_XS_BYTES;
    let maxScale = 0;
    let amaxScale = 0;
    for (let ib = 0; ib < 8; ib++) {
      const max = max32(src, s + 32 * ib);
      const sc = maxOf.amax >= GROUP_MAX_EPS ? fit32(src, s + 32 * ib, max, 7, xsUnused) : 0;
      xsScales[ib] = sc;
      if (Math.abs(sc) > amaxScale) {
        amaxScale = Math.abs(sc);
        maxScale = sc;
      }
    }
    // The f32 d (not its fp16 rounding) sets the sub-block scales, as GGML's; all zero: d = -0.
    const d = fr(-maxScale / 32);
    const id = d !== 0 ? fr(1 / d) : 0;
    putF16(dst, o, d);
    let scalesH = 0;
    for (let ib = 0; ib < 8; ib++) {
      const l = Math.max(-32, Math.min(31, nearestInt(fr(id * xsScales[ib]!))));
      const dl = fr(d * l);
      const idl = dl !== 0 ? fr(1 / dl) : 0;
      const xs = s + 32 * ib;
      for (let j = 0; j < 16; j++)
        dst[o + 8 + 16 * ib + j] =
          nearest(fr(idl * src[xs + j]!)) | (nearest(fr(idl * src[xs + j + 16]!)) << 4);
      const ls = l + 32;
      if ((ib & 1) === 0) dst[o + 4 + (ib >> 1)] = ls & 0x0f;
      else dst[o + 4 + (ib >> 1)]! |= (ls & 0x0f) << 4;
      scalesH |= (ls >> 4) << (2 * ib);
    }
    dst[o + 2] = scalesH & 0xff;
    dst[o + 3] = scalesH >>> 8;
  }
}

export function dequantizeIq4XsBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * IQ4_XS_BYTES;
    const d = getF16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const dl = fr(d * (xsScale(src, o, ib) - 32));
      const q = o + 8 + 16 * ib;
      const y = b * QK_K + 32 * ib;
      for (let j = 0; j < 16; j++) {
        dst[y + j] = fr(dl * LEVELS[src[q + j]! & 0x0f]!);
        dst[y + j + 16] = fr(dl * LEVELS[src[q + j]! >> 4]!);
      }
    }
  }
}

/**
 * Σ over nb super-blocks, x IQ4_XS from byte xo, y Q8_K from byte yo: per sub-block
 * sum + (d·d8·(ls - 32))·sumi, GGML's scalar order (so equal to ggml_vec_dot_iq4_xs_q8_K).
 */
export function dotIq4XsQ8_KRef(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let sum = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * IQ4_XS_BYTES;
    const oy = yo + b * Q8_K_BYTES;
    const d4d8 = fr(getF16(x, ox) * getF32(y, oy));
    for (let ib = 0; ib < 8; ib++) {
      const q = ox + 8 + 16 * ib;
      const a = oy + 4 + 32 * ib;
      let sumi = 0;
      for (let j = 0; j < 16; j++) {
        const v = x[q + j]!;
        sumi += i8(y[a + j]!) * LEVELS[v & 0x0f]! + i8(y[a + j + 16]!) * LEVELS[v >> 4]!;
      }
      sum = fr(sum + fr(fr(d4d8 * (xsScale(x, ox, ib) - 32)) * sumi));
    }
  }
  return sum;
}
