/**
 * The TS reference for GGML's K-quants (Q8_K, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: 256-value super-blocks), byte-exact
 * with GGML's quantize_row_*_ref / dequantize_row_* (ggml-quants.c) and bit-exact with
 * libllmem's scalar kernels (native/src/quant/q8_k.c, q2_k.c, q3_k.c, q4_k.c, q5_k.c, q6_k.c): every f32 operation is
 * rounded with Math.fround in C's order. Layouts are in native/src/quant/k_quants.h.
 */
import { f16Values, f32ToF16Bits } from "../half.ts";

const fr = Math.fround;
const i8 = (b: number): number => (b << 24) >> 24;
export const QK_K = 256;
export const Q8_K_BYTES = 292;
export const Q2_K_BYTES = 84;
export const Q3_K_BYTES = 110;
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
 * GGML's make_qkx2_quants(n, nmax, ..., rmin, 0.1, nstep, useMad) in f32 order (k_qkx2_fit in
 * q4_k.c): Q4_K uses (32, 15, -1, 20, no), Q5_K (32, 31, -0.5, 15, no), Q2_K (16, 3, -0.5, 15,
 * yes: absolute instead of squared error). Returns [scale, the_min].
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
  n = 32,
  useMad = false,
): [number, number] {
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
    best = fr(best + fr(w[i]! * (useMad ? Math.abs(diff) : fr(diff * diff))));
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
        err = fr(err + fr(w[i]! * (useMad ? Math.abs(diff) : fr(diff * diff))));
      }
      if (err < best) {
        L.set(fitAux.subarray(0, n), lo0);
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

// ---- Q2_K { uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin } ----
// scales[g]: 4-bit scale | 4-bit min << 4 of 16-value sub-block g; qs[32h + l] holds values
// 128h + 32j + l (j = 0..3) at bits 2j.

/** The 2-bit level of value v of the Q2_K block at o. */
const q2kLevel = (b: Uint8Array, o: number, v: number): number =>
  (b[o + 16 + 32 * (v >> 7) + (v & 31)]! >> (2 * ((v & 127) >> 5))) & 3;

const q2Scales = new Float64Array(16);
const q2Mins = new Float64Array(16);
/** GGML's quantize_row_q2_K_ref (quantize_q2_k_scalar in q2_k.c), every f32 step in its order. */
export function quantizeQ2_KBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * QK_K;
    const o = b * Q2_K_BYTES;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) kW[l] = Math.abs(src[s + 16 * j + l]!);
      const [sc, mn] = kx2Fit(src, s + 16 * j, kW, kL, 16 * j, 3, -0.5, 15, 16, true);
      q2Scales[j] = sc;
      q2Mins[j] = mn;
      if (sc > maxScale) maxScale = sc;
      if (mn > maxMin) maxMin = mn;
    }
    dst.fill(0, o, o + Q2_K_BYTES);
    // GGML stores nearest_int in the uint8 scale byte and ORs the min's << 4: the wrap is kept.
    if (maxScale > 0) {
      const iscale = fr(15 / maxScale);
      for (let j = 0; j < 16; j++) dst[o + j] = nearestInt(fr(iscale * q2Scales[j]!)) & 0xff;
    }
    if (maxMin > 0) {
      const iscale = fr(15 / maxMin);
      for (let j = 0; j < 16; j++)
        dst[o + j] = (dst[o + j]! | (nearestInt(fr(iscale * q2Mins[j]!)) << 4)) & 0xff;
    }
    putF16(dst, o + 80, maxScale > 0 ? fr(maxScale / 15) : 0);
    putF16(dst, o + 82, maxMin > 0 ? fr(maxMin / 15) : 0);
    const dh = getF16(dst, o + 80);
    const mh = getF16(dst, o + 82);
    for (let j = 0; j < 16; j++) {
      const d = fr(dh * (dst[o + j]! & 0xf));
      if (d === 0) continue; // the fit's levels stay, as in GGML
      const dm = fr(mh * (dst[o + j]! >> 4));
      for (let i = 0; i < 16; i++) {
        const l = nearestInt(fr(fr(src[s + 16 * j + i]! + dm) / d));
        kL[16 * j + i] = l < 0 ? 0 : Math.min(l, 3);
      }
    }
    for (let h = 0; h < 2; h++)
      for (let l = 0; l < 32; l++) {
        const v = 128 * h + l;
        dst[o + 16 + 32 * h + l] = kL[v]! | (kL[v + 32]! << 2) | (kL[v + 64]! << 4) | (kL[v + 96]! << 6);
      }
  }
}

export function dequantizeQ2_KBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q2_K_BYTES;
    const d = getF16(src, o + 80);
    const dmin = getF16(src, o + 82);
    for (let v = 0; v < QK_K; v++) {
      const sc = src[o + (v >> 4)]!;
      const dl = fr(d * (sc & 0xf));
      const ml = fr(dmin * (sc >> 4));
      dst[b * QK_K + v] = fr(fr(dl * q2kLevel(src, o, v)) - ml);
    }
  }
}

/** Q2_K·Q8_K: exact integer sums per block, folded as k_fold (GGML's scalar dot does the same). */
export function dotQ2_KQ8_KRef(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let acc = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * Q2_K_BYTES;
    const oy = yo + b * Q8_K_BYTES;
    let isum = 0;
    let msum = 0;
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let i = 0; i < 16; i++) s += q2kLevel(x, ox, 16 * g + i) * i8(y[oy + 4 + 16 * g + i]!);
      isum += (x[ox + g]! & 0xf) * s;
      msum += (x[ox + g]! >> 4) * getI16(y, oy + 260 + 2 * g);
    }
    const dy = getF32(y, oy);
    acc = kFold(acc, fr(dy * getF16(x, ox + 80)), isum, fr(dy * getF16(x, ox + 82)), msum);
  }
  return acc;
}

// ---- Q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d } ----
// Signed 6-bit scales of 16-value sub-blocks; levels -4..3: 2 bits of qs (placed as Q2_K's)
// minus 4 unless bit v/32 of hmask[v % 32] is set.

/** The signed 6-bit scale (-32..31) of sub-block j of the Q3_K block at o. */
function q3kScale(b: Uint8Array, o: number, j: number): number {
  const s = o + 96;
  const lo = j < 8 ? b[s + j]! & 0xf : b[s + j - 8]! >> 4;
  return (lo | (((b[s + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3) << 4)) - 32;
}

/** The level (-4..3) of value v of the Q3_K block at o. */
const q3kLevel = (b: Uint8Array, o: number, v: number): number =>
  ((b[o + 32 + 32 * (v >> 7) + (v & 31)]! >> (2 * ((v & 127) >> 5))) & 3) -
  ((b[o + (v & 31)]! >> (v >> 5)) & 1 ? 0 : 4);

/** GGML's make_q3_quants(16, 4, x, L, true) (q3_k_fit in q3_k.c): levels 0..7 into q3L, the scale returned. */
function q3kFit(x: Float32Array, xo: number, L: Int8Array, lo0: number): number {
  const n = 16;
  const nmax = 4;
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
    L.fill(0, lo0, lo0 + n);
    return 0;
  }
  const clamp = (l: number): number => Math.max(-nmax, Math.min(nmax - 1, l));
  const iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = clamp(nearestInt(fr(iscale * xi)));
    L[lo0 + i] = l;
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const w = fr(xi * xi);
      const li = L[lo0 + i]!;
      let slx = fr(sumlx - fr(fr(w * xi) * li));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * li) * li));
        const nl = clamp(nearestInt(fr(fr(xi * sl2) / slx)));
        if (nl !== li) {
          slx = fr(slx + fr(fr(w * xi) * nl));
          sl2 = fr(sl2 + fr(fr(w * nl) * nl));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[lo0 + i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) L[lo0 + i] = L[lo0 + i]! + nmax;
  return fr(sumlx / suml2);
}

const q3L = new Int8Array(QK_K);
const q3Scales = new Float64Array(16);
/** GGML's quantize_row_q3_K_ref (quantize_q3_k_scalar in q3_k.c), every f32 step in its order. */
export function quantizeQ3_KBlocks(src: Float32Array, dst: Uint8Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const s = b * QK_K;
    const o = b * Q3_K_BYTES;
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      const sc = q3kFit(src, s + 16 * j, q3L, 16 * j);
      q3Scales[j] = sc;
      if (Math.abs(sc) > amax) {
        amax = Math.abs(sc);
        maxScale = sc;
      }
    }
    dst.fill(0, o, o + Q3_K_BYTES);
    const so = o + 96;
    if (maxScale !== 0) {
      const iscale = fr(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        // GGML keeps nearest_int in an int8_t; |iscale·scale| <= 32 here, so nothing wraps.
        let l = (nearestInt(fr(iscale * q3Scales[j]!)) << 24) >> 24;
        l = Math.max(-32, Math.min(31, l)) + 32;
        if (j < 8) dst[so + j] = l & 0xf;
        else dst[so + j - 8]! |= (l & 0xf) << 4;
        dst[so + 8 + (j & 3)]! |= (l >> 4) << (2 * (j >> 2));
      }
      putF16(dst, o + 108, fr(1 / iscale));
    }
    const dh = getF16(dst, o + 108);
    for (let j = 0; j < 16; j++) {
      const d = fr(dh * q3kScale(dst, o, j));
      if (d === 0) continue; // the fit's levels stay, as in GGML
      for (let i = 0; i < 16; i++) {
        const l = nearestInt(fr(src[s + 16 * j + i]! / d));
        q3L[16 * j + i] = Math.max(-4, Math.min(3, l)) + 4;
      }
    }
    for (let v = 0; v < QK_K; v++) {
      if (q3L[v]! > 3) {
        dst[o + (v & 31)]! |= 1 << (v >> 5);
        q3L[v] = q3L[v]! - 4;
      }
    }
    for (let h = 0; h < 2; h++)
      for (let l = 0; l < 32; l++) {
        const v = 128 * h + l;
        dst[o + 32 + 32 * h + l] = q3L[v]! | (q3L[v + 32]! << 2) | (q3L[v + 64]! << 4) | (q3L[v + 96]! << 6);
      }
  }
}

export function dequantizeQ3_KBlocks(src: Uint8Array, dst: Float32Array, nb: number): void {
  for (let b = 0; b < nb; b++) {
    const o = b * Q3_K_BYTES;
    const d = getF16(src, o + 108);
    for (let v = 0; v < QK_K; v++)
      dst[b * QK_K + v] = fr(fr(d * q3kScale(src, o, v >> 4)) * q3kLevel(src, o, v));
  }
}

const q3Lanes = new Int32Array(8);
const q3Sums = new Float64Array(8);
/**
 * Q3_K·Q8_K as ggml's scalar ggml_vec_dot_q3_K_q8_K (and every native path): per block eight
 * exact integer lanes (values v % 8), lane[l] += d·lane_int[l] in f32, the lanes added in order.
 */
export function dotQ3_KQ8_KRef(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  q3Sums.fill(0);
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * Q3_K_BYTES;
    const oy = yo + b * Q8_K_BYTES;
    q3Lanes.fill(0);
    for (let g = 0; g < 16; g++) {
      const sc = q3kScale(x, ox, g);
      for (let i = 0; i < 16; i++) {
        const v = 16 * g + i;
        q3Lanes[v & 7] = q3Lanes[v & 7]! + sc * (q3kLevel(x, ox, v) * i8(y[oy + 4 + v]!));
      }
    }
    const d = fr(getF16(x, ox + 108) * getF32(y, oy));
    for (let l = 0; l < 8; l++) q3Sums[l] = fr(q3Sums[l]! + fr(d * q3Lanes[l]!));
  }
  let s = 0;
  for (let l = 0; l < 8; l++) s = fr(s + q3Sums[l]!);
  return s;
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
