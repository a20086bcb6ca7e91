/**
 * fp16 and bf16 conversions, round to nearest even, with subnormals, ±0, ±Inf and NaN exact.
 * fp16 goes through Float16Array, whose conversion is IEEE round-to-nearest-even.
 */
const f16 = new Float16Array(1);
const f16Bits = new Uint16Array(f16.buffer);
const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

export function f32ToF16Bits(x: number): number {
  f16[0] = Math.fround(x);
  return f16Bits[0]!;
}

export function f16BitsToF32(bits: number): number {
  f16Bits[0] = bits;
  return f16[0]!;
}

export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const u = f32Bits[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff; // keep NaN a quiet NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(bits: number): number {
  f32Bits[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}
