/**
 * fp16 and bf16 conversions, round to nearest even, with subnormals, ±0, ±Inf and NaN exact.
 * Done on bit patterns (not through Float16Array) so NaN payloads come out exactly as the
 * native paths produce them: a NaN stays a NaN of the same sign, quieted, with the top
 * mantissa bits kept (what F16C and AArch64 FCVT do).
 */
const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** fp16 bits of the f32 with bit pattern `u` (unsigned 32-bit). */
export function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | ((a >>> 13) & 0x3ff);
  if (a >= 0x477ff000) return sign | 0x7c00; // 65520 and above round to Inf
  if (a >= 0x38800000) {
    // Normal fp16: rebias the exponent (127 → 15), then round the 13 dropped bits to even.
    const r = a - 0x38000000;
    return sign | ((r + 0xfff + ((r >>> 13) & 1)) >>> 13);
  }
  if (a <= 0x33000000) return sign; // at most 2^-25 (a tie with 0): rounds to ±0
  // Subnormal fp16: the value in units of 2^-24, rounded to even.
  const e = a >>> 23;
  const mant = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e;
  let q = mant >>> shift;
  const rem = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (q & 1) === 1)) q++;
  return sign | q;
}

/** f32 bit pattern (unsigned) of the fp16 with bits `h`. */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13) | (m ? 0x400000 : 0)) >>> 0;
  if (e !== 0) return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  if (m === 0) return sign >>> 0;
  f32[0] = m * 2 ** -24; // exact: a subnormal fp16 is a normal f32
  return (sign | f32Bits[0]!) >>> 0;
}

export function f32BitsToBf16Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff; // keep NaN a quiet NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  return f32BitsToF16Bits(f32Bits[0]!);
}

let f16Table: Float32Array | undefined;
/** All 65,536 fp16 values as f32, built on first use: dequantization reads its scales here. */
export function f16Values(): Float32Array {
  if (!f16Table) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = f16BitsToF32Bits(h);
    f16Table = new Float32Array(bits.buffer);
  }
  return f16Table;
}

let bf16Table: Float32Array | undefined;
/** All 65,536 bf16 values as f32 (bits << 16), built on first use: the reference attention reads bf16 rows here. */
export function bf16Values(): Float32Array {
  if (!bf16Table) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = h << 16;
    bf16Table = new Float32Array(bits.buffer);
  }
  return bf16Table;
}

export function f16BitsToF32(bits: number): number {
  return f16Values()[bits & 0xffff]!;
}

export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  return f32BitsToBf16Bits(f32Bits[0]!);
}

export function bf16BitsToF32(bits: number): number {
  f32Bits[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}
