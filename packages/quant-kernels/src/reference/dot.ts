/**
 * TS reference dot products over whole blocks (x from byte xo, y from byte yo), in the native scalar path's exact order of
 * f32 operations, so the two agree bit for bit: per block an exact integer sum, then
 * `sum += sumi · (dx · dy)` in f32.
 */
import { f16Values } from "../half.ts";

const fr = Math.fround;
const i8 = (b: number): number => (b << 24) >> 24;

function f16At(bytes: Uint8Array, o: number): number {
  return f16Values()[bytes[o]! | (bytes[o + 1]! << 8)]!;
}

export function dotQ8_0Q8_0Ref(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let sum = 0;
  for (let b = 0; b < nb; b++) {
    const o = b * 34;
    const ox = xo + o;
    const oy = yo + o;
    let sumi = 0;
    for (let j = 2; j < 34; j++) sumi += i8(x[ox + j]!) * i8(y[oy + j]!);
    sum = fr(sum + fr(sumi * fr(f16At(x, ox) * f16At(y, oy))));
  }
  return sum;
}

export function dotQ4_0Q8_0Ref(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let sum = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * 18;
    const oy = yo + b * 34;
    let sumi = 0;
    for (let j = 0; j < 16; j++) {
      const byte = x[ox + 2 + j]!;
      sumi += ((byte & 15) - 8) * i8(y[oy + 2 + j]!) + ((byte >>> 4) - 8) * i8(y[oy + 18 + j]!);
    }
    sum = fr(sum + fr(sumi * fr(f16At(x, ox) * f16At(y, oy))));
  }
  return sum;
}

export function dotQ4_1Q8_1Ref(x: Uint8Array, xo: number, y: Uint8Array, yo: number, nb: number): number {
  let sum = 0;
  for (let b = 0; b < nb; b++) {
    const ox = xo + b * 20;
    const oy = yo + b * 36;
    let sumi = 0;
    for (let j = 0; j < 16; j++) {
      const byte = x[ox + 4 + j]!;
      sumi += (byte & 15) * i8(y[oy + 4 + j]!) + (byte >>> 4) * i8(y[oy + 20 + j]!);
    }
    // s of Q8_1 is d·Σqs, so the min m contributes m·s without touching the values again.
    const scaled = fr(fr(f16At(x, ox) * f16At(y, oy)) * sumi);
    sum = fr(sum + fr(scaled + fr(f16At(x, ox + 2) * f16At(y, oy + 2))));
  }
  return sum;
}

/** Σ f16(a[ao + i])·b[i] over n values, in order. */
export function dotF16F32Ref(a: Uint16Array, ao: number, b: Float32Array, n: number): number {
  const t = f16Values();
  let sum = 0;
  for (let i = 0; i < n; i++) sum = fr(sum + fr(t[a[ao + i]!]! * b[i]!));
  return sum;
}
