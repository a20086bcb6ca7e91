/**
 * Error-minimising 4-bit encoders. Round-to-nearest from the block's extremes (GGML's
 * reference q4_0/q4_1) wastes levels on one outlier; trying a few scales around it and
 * refitting scale (and min) by least squares, as llama.cpp's k-quant search does, lowers
 * the squared error of every block. The output is ordinary q4_0/q4_1 bytes, read by any
 * kernel for those formats.
 */

import { checkRange } from "@llmem/core";
import { FORMATS, nativeQuantizeRefined } from "@llmem/native";
import { f16BitsToF32 as f16ToF32, f32ToF16Bits as f32ToF16 } from "@llmem/quant-kernels";
import { type RowFormat, rowBytes } from "./row-formats.ts";
import { encodeRow } from "./row-kernels.ts";

const L = new Uint8Array(32);
const BEST = new Uint8Array(32);
const STEPS = 4;

function put16(u8: Uint8Array, at: number, bits: number): void {
  u8[at] = bits & 255;
  u8[at + 1] = bits >> 8;
}

function pack(u8: Uint8Array, at: number, q: Uint8Array): void {
  for (let j = 0; j < 16; j++) u8[at + j] = q[j]! | (q[j + 16]! << 4);
}

/** One q4_1 block {f16 d; f16 m; 16 bytes} of x[o..o+32) at u8[at]. */
export function encodeQ4_1Block(x: Float32Array, o: number, u8: Uint8Array, at: number): void {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let bestErr = Number.POSITIVE_INFINITY;
  let bestD = 0;
  let bestM = min;
  const range = max - min;
  for (let s = -STEPS; s <= STEPS && range > 0; s++) {
    const iscale = (15 + s * 0.1) / range;
    // Quantize with this scale, then refit d and m by least squares on the chosen levels.
    let sl = 0;
    let sll = 0;
    let sx = 0;
    let slx = 0;
    for (let j = 0; j < 32; j++) {
      const l = Math.max(0, Math.min(15, Math.round((x[o + j]! - min) * iscale)));
      L[j] = l;
      sl += l;
      sll += l * l;
      sx += x[o + j]!;
      slx += l * x[o + j]!;
    }
    const det = 32 * sll - sl * sl;
    if (det <= 0) continue;
    let d = (32 * slx - sl * sx) / det;
    let m = (sx * sll - sl * slx) / det;
    // The block stores d and m as f16: measure the error with what will be read back.
    d = f16ToF32(f32ToF16(d));
    m = f16ToF32(f32ToF16(m));
    let err = 0;
    for (let j = 0; j < 32; j++) {
      const e = x[o + j]! - (L[j]! * d + m);
      err += e * e;
    }
    if (err < bestErr) {
      bestErr = err;
      bestD = d;
      bestM = m;
      BEST.set(L);
    }
  }
  if (bestErr === Number.POSITIVE_INFINITY) BEST.fill(0); // constant block: m alone holds it
  put16(u8, at, f32ToF16(bestD));
  put16(u8, at + 2, f32ToF16(bestM));
  pack(u8, at + 4, BEST);
}

/** One q4_0 block {f16 d; 16 bytes}, value = (q - 8)·d. */
export function encodeQ4_0Block(x: Float32Array, o: number, u8: Uint8Array, at: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  let bestErr = Number.POSITIVE_INFINITY;
  let bestD = 0;
  BEST.fill(8);
  // The extreme value may land on level -8 (GGML's choice) or on +7: try scales around both.
  for (const base of amax > 0 ? [-8, 7] : []) {
    for (let s = -STEPS; s <= STEPS; s++) {
      const id = (base + s * 0.1) / max;
      let sll = 0;
      let slx = 0;
      for (let j = 0; j < 32; j++) {
        const l = Math.max(0, Math.min(15, Math.round(x[o + j]! * id) + 8));
        L[j] = l;
        sll += (l - 8) * (l - 8);
        slx += (l - 8) * x[o + j]!;
      }
      if (sll === 0) continue;
      const d = f16ToF32(f32ToF16(slx / sll));
      let err = 0;
      for (let j = 0; j < 32; j++) {
        const e = x[o + j]! - (L[j]! - 8) * d;
        err += e * e;
      }
      if (err < bestErr) {
        bestErr = err;
        bestD = d;
        BEST.set(L);
      }
    }
  }
  put16(u8, at, f32ToF16(bestD));
  pack(u8, at + 2, BEST);
}

/**
 * encodeRow for store rows: the error-minimising search for 4-bit formats (libllmem's
 * vectorised one when loaded, the TS one here otherwise; near-ties may pick different but
 * equally valid scales), plain encoding for the other formats.
 */
export function encodeStoreRow(f: RowFormat, src: Float32Array, n: number, u8: Uint8Array, at: number): void {
  if (f !== "q4_0" && f !== "q4_1") {
    encodeRow(f, src, n, u8, at);
    return;
  }
  const bytes = rowBytes(f, n);
  checkRange("dst", at, bytes, u8.length);
  if (nativeQuantizeRefined(f, src, n, u8, at, bytes)) return;
  if (f === "q4_0")
    for (let b = 0; b < n; b += 32) encodeQ4_0Block(src, b, u8, at + (b / 32) * FORMATS.q4_0.blockBytes);
  else for (let b = 0; b < n; b += 32) encodeQ4_1Block(src, b, u8, at + (b / 32) * FORMATS.q4_1.blockBytes);
}
