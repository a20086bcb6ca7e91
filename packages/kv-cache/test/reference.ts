/** Simple reference models the caches are checked against: plain arrays, no rings, no bytes. */

import { encodeStoreRow } from "../src/q4-search.ts";
import type { RowFormat } from "../src/row-formats.ts";
import { decodeRow, encodeRow } from "../src/row-kernels.ts";

export function roundTrip(f: RowFormat, src: Float32Array, store = false): Float32Array {
  const bytes = new Uint8Array(src.length * 4);
  (store ? encodeStoreRow : encodeRow)(f, src, src.length, bytes, 0);
  const out = new Float32Array(src.length);
  decodeRow(f, bytes, 0, src.length, out);
  return out;
}

/** Naive f32 grouped-query attention over [token][kvHead][headDim] keys and values. */
export function referenceAttend(
  keys: Float32Array,
  values: Float32Array,
  tokens: number,
  query: Float32Array,
  numHeads: number,
  numKvHeads: number,
  headDim: number,
  scale = 1 / Math.sqrt(headDim),
): Float64Array {
  const out = new Float64Array(numHeads * headDim);
  if (tokens === 0) return out;
  const row = numKvHeads * headDim;
  const s = new Float64Array(tokens);
  for (let h = 0; h < numHeads; h++) {
    const g = Math.floor(h / (numHeads / numKvHeads));
    let max = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < tokens; t++) {
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += query[h * headDim + d]! * keys[t * row + g * headDim + d]!;
      s[t] = dot * scale;
      max = Math.max(max, s[t]!);
    }
    let sum = 0;
    for (let t = 0; t < tokens; t++) sum += s[t] = Math.exp(s[t]! - max);
    for (let t = 0; t < tokens; t++) {
      const w = s[t]! / sum;
      for (let d = 0; d < headDim; d++) out[h * headDim + d]! += w * values[t * row + g * headDim + d]!;
    }
  }
  return out;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
