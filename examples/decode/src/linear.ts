/**
 * One Linear step, y = W x (+ bias), with x first rounded to the weight's activation type as
 * ggml's matmul converts it (fp16 for F16 weights, bf16 for BF16), so the products are ggml's.
 */
import { fromBf16, fromF16, toBf16, toF16 } from "@llmem/quant-kernels";
import { addBias } from "./math.ts";
import type { MatvecKernels } from "./matvec.ts";
import type { Linear } from "./model-weights.ts";

/** Buffers for the rounded x, sized for the widest input once. */
export class LinearScratch {
  readonly rounded: Float32Array;
  readonly halves: Uint16Array;
  constructor(widest: number) {
    this.rounded = new Float32Array(widest);
    this.halves = new Uint16Array(widest);
  }
}

/**
 * applyLinear for a chunk of n tokens (x: n × cols, y: n × rows, token after token): the same
 * rounding and bias per token, one batched matmul. `scratch` is sized for the chunk's widest input.
 */
export function applyLinearChunk(
  kernels: MatvecKernels,
  m: Linear,
  x: Float32Array,
  n: number,
  y: Float32Array,
  scratch: LinearScratch,
): void {
  let input = x;
  if (m.round !== undefined) {
    const halves = scratch.halves.subarray(0, x.length);
    input = scratch.rounded.subarray(0, x.length);
    if (m.round === "f16") fromF16(toF16(x, halves), input);
    else fromBf16(toBf16(x, halves), input);
  }
  kernels.matmul(m.w, input, n, y);
  if (m.bias) {
    const rows = m.w.rows;
    for (let t = 0; t < n; t++) addBias(y.subarray(t * rows, (t + 1) * rows), m.bias);
  }
}

/**
 * applyLinearChunk for matrices that read the same input (a layer's Q, K and V; its gate and
 * up): one kernels.matmulParts call when the kernels have it and the matrices share format, width
 * and input rounding (the input rounded once), else one applyLinearChunk each. Same results.
 */
export function applyLinearsChunk(
  kernels: MatvecKernels,
  ms: readonly Linear[],
  x: Float32Array,
  n: number,
  ys: readonly Float32Array[],
  scratch: LinearScratch,
): void {
  const m0 = ms[0]!;
  const fused =
    kernels.matmulParts !== undefined &&
    ms.every((m) => m.w.format === m0.w.format && m.w.cols === m0.w.cols && m.round === m0.round);
  if (!fused) {
    for (const [k, m] of ms.entries()) applyLinearChunk(kernels, m, x, n, ys[k]!, scratch);
    return;
  }
  let input = x;
  if (m0.round !== undefined) {
    const halves = scratch.halves.subarray(0, x.length);
    input = scratch.rounded.subarray(0, x.length);
    if (m0.round === "f16") fromF16(toF16(x, halves), input);
    else fromBf16(toBf16(x, halves), input);
  }
  kernels.matmulParts!(
    ms.map((m) => m.w),
    input,
    n,
    ys,
  );
  for (const [k, m] of ms.entries()) {
    if (!m.bias) continue;
    const rows = m.w.rows;
    const y = ys[k]!;
    for (let t = 0; t < n; t++) addBias(y.subarray(t * rows, (t + 1) * rows), m.bias);
  }
}

export function applyLinear(
  kernels: MatvecKernels,
  m: Linear,
  x: Float32Array,
  y: Float32Array,
  scratch: LinearScratch,
): void {
  let input = x;
  if (m.round !== undefined) {
    const halves = scratch.halves.subarray(0, x.length);
    input = scratch.rounded.subarray(0, x.length);
    if (m.round === "f16") fromF16(toF16(x, halves), input);
    else fromBf16(toBf16(x, halves), input);
  }
  kernels.matvec(m.w, input, y);
  if (m.bias) addBias(y, m.bias);
}
