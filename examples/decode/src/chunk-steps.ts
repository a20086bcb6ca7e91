/**
 * The element-wise steps of a prefill chunk over all of its rows at once, and of one decode token
 * (a one-row chunk): libllmem's (one native call per step, bit for bit math.ts:
 * native/src/kernels/rows.c) when it is loaded, otherwise math.ts row by row, the reference.
 */
import { nativeAdd, nativeRmsnormRows, nativeRopeRows, nativeSwiglu } from "@llmem/native";
import type { ChunkRows } from "./chunk.ts";
import { accumulate, rmsnorm, rmsnormGgml, rope, ropeGgml, swiglu, swigluGgml } from "./math.ts";
import type { Numerics } from "./model-weights.ts";

/** out row t = RMSNorm(x row t) ⊙ weight, t < n (out may be x). */
export function normRows(nm: Numerics, out: ChunkRows, x: ChunkRows, weight: Float32Array, n: number): void {
  const dim = x.width;
  if (nativeRmsnormRows(nm.style, x.all, weight, n, dim, nm.rmsEps, out.all)) return;
  for (let t = 0; t < n; t++) {
    if (nm.style === "ggml") rmsnormGgml(out.rows[t]!, x.rows[t]!, weight, dim, nm.rmsEps);
    else rmsnorm(out.rows[t]!, x.rows[t]!, weight, dim);
  }
}

/** One decode token's RMSNorm: out = RMSNorm(x[0..dim)) ⊙ weight (out may be x); one native call. */
export function normRow(
  nm: Numerics,
  out: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  dim: number,
): void {
  if (nativeRmsnormRows(nm.style, x, weight, 1, dim, nm.rmsEps, out)) return;
  if (nm.style === "ggml") rmsnormGgml(out, x, weight, dim, nm.rmsEps);
  else rmsnorm(out, x, weight, dim);
}

/** One decode token's RoPE over v[0..size) (size: a multiple of headSize) by one position's cos/sin. */
export function ropeRow(
  nm: Numerics,
  v: Float32Array,
  size: number,
  headSize: number,
  cos: Float32Array,
  sin: Float32Array,
): void {
  const dims = nm.style === "ggml" ? nm.ropeDims : headSize;
  const neox = nm.style === "ggml" && nm.ropeNeox;
  if (nativeRopeRows(v, 1, size, headSize, dims, neox, cos, sin, cos.length)) return;
  if (nm.style === "ggml") ropeGgml(v, size, headSize, dims, neox, cos, sin);
  else rope(v, size, headSize, cos, sin);
}

/** Rotates rows t < n of v by position t's angles (cos/sin rows: headSize/2 floats each). */
export function ropeRows(
  nm: Numerics,
  v: ChunkRows,
  n: number,
  headSize: number,
  cos: ChunkRows,
  sin: ChunkRows,
): void {
  const dims = nm.style === "ggml" ? nm.ropeDims : headSize;
  const neox = nm.style === "ggml" && nm.ropeNeox;
  if (nativeRopeRows(v.all, n, v.width, headSize, dims, neox, cos.all, sin.all, cos.width)) return;
  for (let t = 0; t < n; t++) {
    if (nm.style === "ggml") ropeGgml(v.rows[t]!, v.width, headSize, dims, neox, cos.rows[t]!, sin.rows[t]!);
    else rope(v.rows[t]!, v.width, headSize, cos.rows[t]!, sin.rows[t]!);
  }
}

/** gate = silu(gate) · up over the first `count` floats. */
export function swigluAll(nm: Numerics, gate: Float32Array, up: Float32Array, count: number): void {
  if (nativeSwiglu(nm.style, gate, up, count)) return;
  if (nm.style === "ggml") swigluGgml(gate, up, count);
  else swiglu(gate, up, count);
}

/** x += y over the first `count` floats (the residual connection). */
export function addAll(x: Float32Array, y: Float32Array, count: number): void {
  if (!nativeAdd(x, y, count)) accumulate(x, y, count);
}
