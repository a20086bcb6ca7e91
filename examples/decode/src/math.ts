/**
 * run.c's element-wise blocks in f32: every sum and product is rounded to a float as the
 * C code rounds it (Math.fround), so only the matvec and attention dot products (SIMD
 * kernels, whose summation order differs) are not bit-identical to run.c.
 */
const f = Math.fround;

/** o = weight · x / sqrt(mean(x²) + 1e-5); o may alias x. */
export function rmsnorm(
  o: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  size: number,
  wOff = 0,
): void {
  let ss = 0;
  for (let j = 0; j < size; j++) ss = f(ss + f(x[j]! * x[j]!));
  ss = f(ss / size);
  ss = f(ss + f(1e-5));
  ss = f(1 / f(Math.sqrt(ss)));
  for (let j = 0; j < size; j++) o[j] = weight[wOff + j]! * f(ss * x[j]!);
}

/** In-place softmax of x[0 .. size). */
export function softmax(x: Float32Array, size: number): void {
  let max = x[0]!;
  for (let i = 1; i < size; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const e = f(Math.exp(f(x[i]! - max)));
    x[i] = e;
    sum = f(sum + e);
  }
  for (let i = 0; i < size; i++) x[i] = x[i]! / sum;
}

/**
 * RoPE cos/sin for position `pos`, one pair per even offset inside a head, computed as
 * run.c computes them (powf, cosf, sinf on floats). Filled once per position and shared by
 * every layer and head.
 */
export function ropeTable(pos: number, headSize: number, cos: Float32Array, sin: Float32Array): void {
  for (let i = 0; i < headSize; i += 2) {
    const freq = f(1 / f(10000 ** f(i / headSize)));
    const val = f(pos * freq);
    cos[i >> 1] = Math.cos(val);
    sin[i >> 1] = Math.sin(val);
  }
}

/** Rotates pairs (v[i], v[i+1]) of every head of a vector of `size` floats. */
export function rope(
  v: Float32Array,
  size: number,
  headSize: number,
  cos: Float32Array,
  sin: Float32Array,
): void {
  for (let i = 0; i < size; i += 2) {
    const j = (i % headSize) >> 1;
    const fcr = cos[j]!;
    const fci = sin[j]!;
    const v0 = v[i]!;
    const v1 = v[i + 1]!;
    v[i] = f(v0 * fcr) - f(v1 * fci);
    v[i + 1] = f(v0 * fci) + f(v1 * fcr);
  }
}

/** hb = silu(hb) · hb2 (SwiGLU). */
export function swiglu(hb: Float32Array, hb2: Float32Array, size: number): void {
  for (let i = 0; i < size; i++) {
    let val = hb[i]!;
    val = f(val * f(1 / f(1 + f(Math.exp(-val)))));
    hb[i] = val * hb2[i]!;
  }
}

export function accumulate(x: Float32Array, y: Float32Array, size: number): void {
  for (let i = 0; i < size; i++) x[i] = x[i]! + y[i]!;
}
