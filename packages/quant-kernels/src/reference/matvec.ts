/** TS reference matvec rows and attention-row kernels (the fallback when native is off). */
import { f16Values } from "../half.ts";

const fr = Math.fround;

/** Σ a[ao + i]·x[i] over n values, f32 in order (the native scalar order). */
export function dotF32At(a: Float32Array, ao: number, x: Float32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = fr(sum + fr(a[ao + i]! * x[i]!));
  return sum;
}

/** Dot of an f32 query with one quantized row (dequantized on the fly, never stored). */
export function rowDotQ(
  format: "q8_0" | "q4_0" | "q4_1",
  q: Float32Array,
  k: Uint8Array,
  o: number,
  n: number,
): number {
  const t = f16Values();
  let acc = 0;
  for (let b = 0; b < n / 32; b++) {
    const q0 = b * 32;
    let s = 0;
    if (format === "q8_0") {
      const ob = o + b * 34;
      for (let j = 0; j < 32; j++) s = fr(s + fr(q[q0 + j]! * ((k[ob + 2 + j]! << 24) >> 24)));
      acc = fr(acc + fr(t[k[ob]! | (k[ob + 1]! << 8)]! * s));
    } else if (format === "q4_0") {
      const ob = o + b * 18;
      for (let j = 0; j < 32; j++) {
        const byte = k[ob + 2 + (j & 15)]!;
        s = fr(s + fr(q[q0 + j]! * ((j < 16 ? byte & 15 : byte >>> 4) - 8)));
      }
      acc = fr(acc + fr(t[k[ob]! | (k[ob + 1]! << 8)]! * s));
    } else {
      const ob = o + b * 20;
      let qsum = 0;
      for (let j = 0; j < 32; j++) {
        const byte = k[ob + 4 + (j & 15)]!;
        s = fr(s + fr(q[q0 + j]! * (j < 16 ? byte & 15 : byte >>> 4)));
        qsum = fr(qsum + q[q0 + j]!);
      }
      const d = t[k[ob]! | (k[ob + 1]! << 8)]!;
      const m = t[k[ob + 2]! | (k[ob + 3]! << 8)]!;
      acc = fr(acc + fr(fr(d * s) + fr(m * qsum)));
    }
  }
  return acc;
}

/** out[i] += w · v[i] for one quantized row, each value dequantized exactly as dequantize does. */
export function rowAxpyQ(
  format: "q8_0" | "q4_0" | "q4_1",
  w: number,
  v: Uint8Array,
  o: number,
  out: Float32Array,
  n: number,
): void {
  const t = f16Values();
  for (let b = 0; b < n / 32; b++) {
    const o0 = b * 32;
    if (format === "q8_0") {
      const ob = o + b * 34;
      const d = t[v[ob]! | (v[ob + 1]! << 8)]!;
      for (let j = 0; j < 32; j++)
        out[o0 + j] = out[o0 + j]! + fr(w * fr(((v[ob + 2 + j]! << 24) >> 24) * d));
    } else if (format === "q4_0") {
      const ob = o + b * 18;
      const d = t[v[ob]! | (v[ob + 1]! << 8)]!;
      for (let j = 0; j < 32; j++) {
        const byte = v[ob + 2 + (j & 15)]!;
        out[o0 + j] = out[o0 + j]! + fr(w * fr(((j < 16 ? byte & 15 : byte >>> 4) - 8) * d));
      }
    } else {
      const ob = o + b * 20;
      const d = t[v[ob]! | (v[ob + 1]! << 8)]!;
      const m = t[v[ob + 2]! | (v[ob + 3]! << 8)]!;
      for (let j = 0; j < 32; j++) {
        const byte = v[ob + 4 + (j & 15)]!;
        out[o0 + j] = out[o0 + j]! + fr(w * fr(fr((j < 16 ? byte & 15 : byte >>> 4) * d) + m));
      }
    }
  }
}
