/**
 * The TS reference for GGML's K-quants (Q8_K, Q4_K, Q5_K, Q6_K: 256-value super-blocks), byte-exact
 * with GGML's quantize_row_*_ref / dequantize_row_* (ggml-quants.c) and bit-exact with
 * libllmem's scalar kernels (native/src/quant/q8_k.c, q4_k.c, q5_k.c, q6_k.c): every f32 operation is
 * rounded with Math.fround in C's order. Layouts are in native/src/quant/k_quants.h.
 */
import { f16Values, f32ToF16Bits } from "../half.ts";

const fr = Math.fround;
const i8 = (b: number): number => (b << 24) >> 24;
export const QK_K = 256;
export const Q8_K_BYTES = 292;
export const Q4_K_BYTES = 144;
export const Q5_K_BYTES = 176;
export const Q6_K_BYTES = 210;

/**
 * GGML's nearest_int: v + 1.5·2^23 in f32, whose low mantissa bits hold the integer, so ties go
 * to EVEN. Out of GGML's asserted range (|v| > 4194303) it saturates and NaN gives 0, as the C does.
 */
export function nearestInt(v: number): number {
  if (Math.abs(v) <= 4194303) return fr(v + 12582912) - 12582912;
  return v > 0 ? 4194304 : v < 0 ? -4194304 : 0;
}

const getF16 = (b: Uint8Array, o: number): number => f16Values()[b[o]! | (b[o + 1]! << 8)]!;
function putF16(b: Uint8Array, o: number, x: number): number {
  const h = f32ToF16Bits(x);
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
  return h;
}
const f32Scratch = new Float32Array(1);
const f32Bytes = new Uint8Array(f32Scratch.buffer);
export function getF32(b: Uint8Array, o: number): number {
  for (let i = 0; i < 4; i++) f32Bytes[i] = b[o + i]!;
  return f32Scratch[0]!;
}
function putF32(b: Uint8Array, o: number, x: number): void {
  f32Scratch[0] = x;
  for (let i = 0; i < 4; i++) b[o + i] = f32Bytes[i]!;
}
const getI16 = (b: Uint8Array, o: number): number => ((b[o]! | (b[o + 1]! << 8)) << 16) >> 16;

// ---- Q8_K { f32 d; int8 qs[256]; int16 bsums[16] } ----

export function quantizeQ8_KBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * QK_K;
    const o = b * Q8_K_BYTES;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK_K; j++) {
      const a = Math.abs(src[s + j]!);
      if (a > amax) {
        amax = a;
        max = src[s + j]!;
      }
    }
    dst.fill(0, o, o + Q8_K_BYTES);
    if (amax === 0) continue;
    const iscale = fr(-127 / max);
    for (let j = 0; j < QK_K; j++) {
      const v = nearestInt(fr(iscale * src[s + j]!));
      dst[o + 4 + j] = (v > 127 ? 127 : Math.max(v, -128)) & 0xff;
    }
    for (let g = 0; g < 16; g++) {
      let sum = 0;
      for (let i = 0; i < 16; i++) sum += i8(dst[o + 4 + 16 * g + i]!);
      dst[o + 260 + 2 * g] = sum & 0xff;
      dst[o + 261 + 2 * g] = (sum >> 8) & 0xff;
    }
    putF32(dst, o, fr(1 / iscale));
  }
}

export function dequantizeQ8_KBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q8_K_BYTES;
    const d = getF32(src, o);
    for (let j = 0; j < QK_K; j++) dst[b * QK_K + j] = fr(d * i8(src[o + 4 + j]!));
  }
}

// ---- Q4_K { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128] } ----

/** The 6-bit scales and mins of a Q4_K block's 8 sub-blocks (see k_quants.h: q4_k_scales). */
function q4kScales(b: Uint8Array, o: number, sc: Uint8Array, m: Uint8Array): void {
  const s = o + 4;
  for (let j = 0; j < 4; j++) {
    sc[j] = b[s + j]! & 63;
    m[j] = b[s + j + 4]! & 63;
    sc[j + 4] = (b[s + j + 8]! & 0xf) | ((b[s + j]! >> 6) << 4);
    m[j + 4] = (b[s + j + 8]! >> 4) | ((b[s + j + 4]! >> 6) << 4);
  }
}

const fitAux = new Uint8Array(32);
/**
 * GGML's make_qkx2_quants(32, nmax, ..., rmin, 0.1, nstep, false) in f32 order (k_qkx2_fit in
 * q4_k.c): Q4_K uses (15, -1, 20), Q5_K (31, -0.5, 15). Returns [scale, the_min].
 */
function kx2Fit(
  x: Float32Array,
  xo: number,
  w: Float32Array,
  L: Uint8Array,
  lo0: number,
  nmax: number,
  rmin: number,
  nstep: number,
): [number, number] {
  const n = 32;
  let lo = x[xo]!;
  let hi = x[xo]!;
  let sumW = w[0]!;
  let sumX = fr(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i]!;
    if (xi < lo) lo = xi;
    if (xi > hi) hi = xi;
    sumW = fr(sumW + w[i]!);
    sumX = fr(sumX + fr(w[i]! * xi));
  }
  if (lo > 0) lo = 0;
  if (hi === lo) {
    L.fill(0, lo0, lo0 + n);
    return [0, -lo];
  }
  let iscale = fr(nmax / fr(hi - lo));
  let scale = fr(1 / iscale);
  let best = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(fr(iscale * fr(x[xo + i]! - lo)));
    const li = l < 0 ? 0 : Math.min(l, nmax);
    L[lo0 + i] = li;
    const diff = fr(fr(fr(scale * li) + lo) - x[xo + i]!);
    best = fr(best + fr(w[i]! * fr(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    // lo moves when a trial wins, and later trials measure from it (GGML's loop does the same).
    iscale = fr(fr(fr(rmin + fr(fr(0.1) * is)) + nmax) / fr(hi - lo));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(fr(iscale * fr(x[xo + i]! - lo)));
      l = l < 0 ? 0 : Math.min(l, nmax);
      fitAux[i] = l;
      const wl = fr(w[i]! * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * x[xo + i]!));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let err = 0;
      for (let i = 0; i < n; i++) {
        const diff = fr(fr(fr(thisScale * fitAux[i]!) + thisMin) - x[xo + i]!);
        err = fr(err + fr(w[i]! * fr(diff * diff)));
      }
      if (err < best) {
        L.set(fitAux, lo0);
        best = err;
        scale = thisScale;
        lo = thisMin;
      }
    }
  }
  return [scale, -lo];
}

const kL = new Uint8Array(QK_K);
const kW = new Float32Array(32);
const kSc = new Uint8Array(8);
const kM = new Uint8Array(8);

const kScales = new Float64Array(8);
const kMins = new Float64Array(8);
/**
 * The part Q4_K and Q5_K share: fits each 32-value sub-block of src[s..s+256) with levels
 * 0..nmax, writes d, dmin and the 12 scale bytes at dst[o..o+16), and leaves in kL the levels
 * re-derived against the scales as stored (GGML's quantize_row_q4_K_ref / q5_K_ref).
 */
function kx2Header(
  src: Float32Array,
  s: number,
  dst: Uint8Array,
  o: number,
  nmax: number,
  rmin: number,
  nstep: number,
): void {
  const scales = kScales;
  const mins = kMins;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const xs = s + 32 * j;
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(src[xs + l]! * src[xs + l]!));
    const avX = fr(Math.sqrt(fr(sumX2 / 32)));
    for (let l = 0; l < 32; l++) kW[l] = fr(avX + Math.abs(src[xs + l]!));
    const [sc, mn] = kx2Fit(src, xs, kW, kL, 32 * j, nmax, rmin, nstep);
    scales[j] = sc;
    mins[j] = mn;
    if (sc > maxScale) maxScale = sc;
    if (mn > maxMin) maxMin = mn;
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  const so = o + 4;
  dst.fill(0, so, so + 12);
  for (let j = 0; j < 8; j++) {
    // GGML stores nearest_int in a uint8_t before MIN(63, .): the wrap-around is kept.
    const ls = Math.min(63, nearestInt(fr(invScale * scales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(fr(invMin * mins[j]!)) & 0xff);
    if (j < 4) {
      dst[so + j]! |= ls;
      dst[so + j + 4]! |= lm;
    } else {
      dst[so + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      dst[so + j - 4]! |= (ls >> 4) << 6;
      dst[so + j]! |= (lm >> 4) << 6;
    }
  }
  putF16(dst, o, fr(maxScale / 63));
  putF16(dst, o + 2, fr(maxMin / 63));
  const dh = getF16(dst, o);
  const mh = getF16(dst, o + 2);
  q4kScales(dst, o, kSc, kM);
  for (let j = 0; j < 8; j++) {
    const d = fr(dh * kSc[j]!);
    if (d === 0) continue;
    const dm = fr(mh * kM[j]!);
    for (let i = 0; i < 32; i++) {
      const l = nearestInt(fr(fr(src[s + 32 * j + i]! + dm) / d));
      kL[32 * j + i] = l < 0 ? 0 : Math.min(l, nmax);
    }
  }
}

export function quantizeQ4_KBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_K_BYTES;
    kx2Header(src, b * QK_K, dst, o, 15, -1, 20);
    for (let c = 0; c < 4; c++)
      for (let l = 0; l < 32; l++) dst[o + 16 + 32 * c + l] = kL[64 * c + l]! | (kL[64 * c + 32 + l]! << 4);
  }
}

export function dequantizeQ4_KBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_K_BYTES;
    const d = getF16(src, o);
    const dmin = getF16(src, o + 2);
    q4kScales(src, o, kSc, kM);
    for (let j = 0; j < 8; j++) {
      const dj = fr(d * kSc[j]!);
      const mj = fr(dmin * kM[j]!);
      const shift = (j & 1) * 4;
      const q = o + 16 + 32 * (j >> 1);
      for (let l = 0; l < 32; l++)
        dst[b * QK_K + 32 * j + l] = fr(fr(dj * ((src[q + l]! >> shift) & 0xf)) - mj);
    }
  }
}

/** One super-block's fold, as k_fold in k_quants.h: acc + (d·isum − dmin·msum), each step in f32. */
function kFold(acc: number, d: number, isum: number, dmin: number, msum: number): number {
  return fr(acc + fr(fr(d * fr(isum)) - fr(dmin * fr(msum))));
}

export function dotQ4_KQ8_KRef(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * Q4_K_BYTES;
    const oy = yo + b * Q8_K_BYTES;
    q4kScales(x, ox, kSc, kM);
    let isum = 0;
    let msum = 0;
    for (let j = 0; j < 8; j++) {
      const shift = (j & 1) * 4;
      const q = ox + 16 + 32 * (j >> 1);
      let s = 0;
      for (let l = 0; l < 32; l++) s += ((x[q + l]! >> shift) & 0xf) * i8(y[oy + 4 + 32 * j + l]!);
      isum += kSc[j]! * s;
      msum += kM[j]! * (getI16(y, oy + 260 + 4 * j) + getI16(y, oy + 262 + 4 * j));
    }
    const dy = getF32(y, oy);
    acc = kFold(acc, fr(getF16(x, ox) * dy), isum, fr(getF16(x, ox + 2) * dy), msum);
  }
  return acc;
}

// ---- Q5_K { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128] } ----
// Q4_K's header and nibbles, plus bit j of qh[l] as the fifth bit of value l of sub-block j.

/** The 5-bit level of value l of sub-block j of the Q5_K block at o. */
const q5kLevel = (b: Uint8Array, o: number, j: number, l: number): number =>
  ((b[o + 48 + 32 * (j >> 1) + l]! >> ((j & 1) * 4)) & 0xf) | (((b[o + 16 + l]! >> j) & 1) << 4);

export function quantizeQ5_KBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_K_BYTES;
    kx2Header(src, b * QK_K, dst, o, 31, -0.5, 15);
    dst.fill(0, o + 16, o + 48);
    for (let c = 0; c < 4; c++)
      for (let l = 0; l < 32; l++) {
        const a = kL[64 * c + l]!;
        const e = kL[64 * c + 32 + l]!;
        dst[o + 48 + 32 * c + l] = (a & 0xf) | ((e & 0xf) << 4);
        dst[o + 16 + l]! |= ((a >> 4) << (2 * c)) | ((e >> 4) << (2 * c + 1));
      }
  }
}

export function dequantizeQ5_KBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_K_BYTES;
    const d = getF16(src, o);
    const dmin = getF16(src, o + 2);
    q4kScales(src, o, kSc, kM);
    for (let j = 0; j < 8; j++) {
      const dj = fr(d * kSc[j]!);
      const mj = fr(dmin * kM[j]!);
      for (let l = 0; l < 32; l++) dst[b * QK_K + 32 * j + l] = fr(fr(dj * q5kLevel(src, o, j, l)) - mj);
    }
  }
}

export function dotQ5_KQ8_KRef(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * Q5_K_BYTES;
    const oy = yo + b * Q8_K_BYTES;
    q4kScales(x, ox, kSc, kM);
    let isum = 0;
    let msum = 0;
    for (let j = 0; j < 8; j++) {
      let s = 0;
      for (let l = 0; l < 32; l++) s += q5kLevel(x, ox, j, l) * i8(y[oy + 4 + 32 * j + l]!);
      isum += kSc[j]! * s;
      msum += kM[j]! * (getI16(y, oy + 260 + 4 * j) + getI16(y, oy + 262 + 4 * j));
    }
    const dy = getF32(y, oy);
    acc = kFold(acc, fr(getF16(x, ox) * dy), isum, fr(getF16(x, ox + 2) * dy), msum);
  }
  return acc;
}

// ---- Q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d } ----

/** The 6-bit level (0..63) of value v of the block at o (see q6_k_level in q6_k.c). */
function q6kLevel(b: Uint8Array, o: number, v: number): number {
  const h = v >> 7;
  const r = v & 127;
  const slice = r >> 5;
  const l = r & 31;
  const lo = b[o + 64 * h + l + 32 * (slice & 1)]!;
  const hi = b[o + 128 + 32 * h + l]!;
  return (slice < 2 ? lo & 0xf : lo >> 4) | (((hi >> (2 * slice)) & 3) << 4);
}

const q6L = new Int8Array(QK_K);
/** GGML's make_qx_quants(16, 32, x, L, 1, NULL) in f32 order; L gets levels 0..63; returns the scale. */
function q6kFit(x: Float32Array, xo: number, lo0: number): number {
  const n = 16;
  const nmax = 32;
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i]!;
    }
  }
  if (amax < fr(1e-15)) {
    q6L.fill(0, lo0, lo0 + n);
    return 0;
  }
  const clamp = (l: number): number => (l < -nmax ? -nmax : Math.min(l, nmax - 1));
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = clamp(nearestInt(fr(iscale * xi)));
    q6L[lo0 + i] = l + nmax;
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(fr(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const l = clamp(nearestInt(fr(iscale * xi)));
      const w = fr(xi * xi);
      sumlx = fr(sumlx + fr(fr(w * xi) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) q6L[lo0 + i] = nmax + clamp(nearestInt(fr(iscale * x[xo + i]!)));
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

export function quantizeQ6_KBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  const scales = new Float64Array(16);
  for (let b = 0; b < nb; b++) {
    const s = b * QK_K;
    const o = b * Q6_K_BYTES;
    let maxScale = 0;
    let maxAbs = 0;
    for (let g = 0; g < 16; g++) {
      scales[g] = q6kFit(src, s + 16 * g, 16 * g);
      const a = Math.abs(scales[g]!);
      if (a > maxAbs) {
        maxAbs = a;
        maxScale = scales[g]!;
      }
    }
    dst.fill(0, o, o + Q6_K_BYTES);
    if (maxAbs < fr(1e-15)) continue;
    const iscale = fr(-128 / maxScale);
    putF16(dst, o + 208, fr(1 / iscale));
    const dh = getF16(dst, o + 208);
    for (let g = 0; g < 16; g++) {
      const v = nearestInt(fr(iscale * scales[g]!));
      dst[o + 192 + g] = Math.min(v, 127) & 0xff;
    }
    for (let g = 0; g < 16; g++) {
      const d = fr(dh * i8(dst[o + 192 + g]!));
      if (d === 0) continue;
      for (let i = 0; i < 16; i++) {
        let l = nearestInt(fr(src[s + 16 * g + i]! / d));
        l = l < -32 ? -32 : Math.min(l, 31);
        q6L[16 * g + i] = l + 32;
      }
    }
    for (let h = 0; h < 2; h++) {
      const ql = o + 64 * h;
      const qh = o + 128 + 32 * h;
      const L = 128 * h;
      for (let l = 0; l < 32; l++) {
        const a = q6L[L + l]!;
        const b2 = q6L[L + l + 32]!;
        const c = q6L[L + l + 64]!;
        const e = q6L[L + l + 96]!;
        dst[ql + l] = (a & 0xf) | ((c & 0xf) << 4);
        dst[ql + l + 32] = (b2 & 0xf) | ((e & 0xf) << 4);
        dst[qh + l] = (a >> 4) | ((b2 >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
  }
}

export function dequantizeQ6_KBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q6_K_BYTES;
    const d = getF16(src, o + 208);
    for (let v = 0; v < QK_K; v++) {
      const ds = fr(d * i8(src[o + 192 + (v >> 4)]!));
      dst[b * QK_K + v] = fr(ds * (q6kLevel(src, o, v) - 32));
    }
  }
}

export function dotQ6_KQ8_KRef(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * Q6_K_BYTES;
    const oy = yo + b * Q8_K_BYTES;
    let isum = 0;
    let off = 0;
    for (let g = 0; g < 16; g++) {
      const sc = i8(x[ox + 192 + g]!);
      let s = 0;
      for (let i = 0; i < 16; i++) s += q6kLevel(x, ox, 16 * g + i) * i8(y[oy + 4 + 16 * g + i]!);
      isum += sc * s;
      off += sc * getI16(y, oy + 260 + 2 * g);
    }
    // C's int32 arithmetic: isum and 32·off stay far inside 2^31, so doubles are exact here.
    acc = fr(acc + fr(fr(getF16(x, ox + 208) * getF32(y, oy)) * fr(isum - 32 * off)));
  }
  return acc;
}
