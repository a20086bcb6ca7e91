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

/**
 * ggml's rms_norm then mul, as llama.cpp's graph runs them: squares rounded to f32 and
 * summed in double, mean and scale in f32, o = (x · scale) · weight. o may alias x.
 */
export function rmsnormGgml(
  o: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  size: number,
  eps: number,
): void {
  let sum = 0;
  for (let j = 0; j < size; j++) sum += f(x[j]! * x[j]!);
  const mean = f(sum / size);
  const scale = f(1 / f(Math.sqrt(f(mean + f(eps)))));
  for (let j = 0; j < size; j++) o[j] = f(x[j]! * scale) * weight[j]!;
}

/**
 * ggml's rope cache for position `pos`: the angle starts at pos and is multiplied by
 * base^(-2/dims) (rounded to f32) once per pair, each product rounded to f32, so it drifts
 * from run.c's per-pair powf exactly as llama.cpp's does. Fills dims/2 cos/sin pairs.
 */
export function ropeTableGgml(
  pos: number,
  dims: number,
  base: number,
  cos: Float32Array,
  sin: Float32Array,
): void {
  const thetaScale = f(f(base) ** f(-2 / dims));
  let theta = f(pos);
  for (let i = 0; i < dims >> 1; i++) {
    cos[i] = Math.cos(theta);
    sin[i] = Math.sin(theta);
    theta = f(theta * thetaScale);
  }
}

/**
 * Rotates the first `dims` values of every head of `v` (size floats) by the table's angles:
 * adjacent pairs (2i, 2i+1) in ggml's NORM mode (llama), pairs (i, i + dims/2) in NEOX mode
 * (qwen2). Values past `dims` in a head pass through.
 */
export function ropeGgml(
  v: Float32Array,
  size: number,
  headSize: number,
  dims: number,
  neox: boolean,
  cos: Float32Array,
  sin: Float32Array,
): void {
  const half = dims >> 1;
  for (let h = 0; h < size; h += headSize) {
    for (let i = 0; i < half; i++) {
      const a = neox ? h + i : h + 2 * i;
      const b = neox ? a + half : a + 1;
      const c = cos[i]!;
      const s = sin[i]!;
      const v0 = v[a]!;
      const v1 = v[b]!;
      v[a] = f(v0 * c) - f(v1 * s);
      v[b] = f(v0 * s) + f(v1 * c);
    }
  }
}

/** gate = silu(gate) · up with ggml's silu, x / (1 + e^-x). */
export function swigluGgml(gate: Float32Array, up: Float32Array, size: number): void {
  for (let i = 0; i < size; i++) {
    const g = gate[i]!;
    gate[i] = f(g / f(1 + f(Math.exp(-g)))) * up[i]!;
  }
}

/** x += b (a matmul's bias, as ggml_add). */
export function addBias(x: Float32Array, b: Float32Array): void {
  for (let i = 0; i < b.length; i++) x[i] = x[i]! + b[i]!;
}
