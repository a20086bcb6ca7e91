/**
 * One Linear step, y = W x (+ bias), with x first rounded to the weight's activation type as
 * ggml's matmul converts it (fp16 for F16 weights, bf16 for BF16), so the products are ggml's.
 */
import { fromBf16, fromF16, toBf16, toF16 } from "@llmem/quant-kernels";
import { addBias } from "./math.ts";
import type { MatvecKernels, WeightMatrix } from "./matvec.ts";
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
  kernels.matmul(m.w, rounded(m, x, scratch), n, y);
  if (m.bias) {
    const rows = m.w.rows;
    for (let t = 0; t < n; t++) addBias(y.subarray(t * rows, (t + 1) * rows), m.bias);
  }
}

/**
 * applyLinearChunk for matrices that read the same input (a layer's Q, K and V; its gate and
 * up): the first of them and those after it that share its format, width and input rounding go
 * through one kernels.matmulParts call (the input rounded once) when the kernels have it; the
 * rest one by one. Same results as one applyLinearChunk each.
 */
export function applyLinearsChunk(
  kernels: MatvecKernels,
  ms: readonly Linear[],
  x: Float32Array,
  n: number,
  ys: readonly Float32Array[],
  scratch: LinearScratch,
): void {
  const shared = kernels.matmulParts === undefined ? null : sharedPass(ms);
  const first = shared === null ? 0 : shared.ws.length;
  if (shared !== null) {
    kernels.matmulParts!(
      shared.ws,
      rounded(ms[0]!, x, scratch),
      n,
      first === ys.length ? ys : ys.slice(0, first),
    );
    for (let k = 0; k < first; k++) {
      const m = ms[k]!;
      if (!m.bias) continue;
      const rows = m.w.rows;
      for (let t = 0; t < n; t++) addBias(ys[k]!.subarray(t * rows, (t + 1) * rows), m.bias);
    }
  }
  for (let k = first; k < ms.length; k++) applyLinearChunk(kernels, ms[k]!, x, n, ys[k]!, scratch);
}

/**
 * applyLinear for matrices that read the same input (a layer's Q, K and V; its gate and up): the
 * first of them and those after it that share its format, width and input rounding go through
 * one kernels.matvecParts call (the input rounded once) when the kernels have it; the rest one
 * by one. Same results as one applyLinear each; allocation-free when ms and ys are the same
 * arrays as before.
 */
export function applyLinears(
  kernels: MatvecKernels,
  ms: readonly Linear[],
  x: Float32Array,
  ys: readonly Float32Array[],
  scratch: LinearScratch,
): void {
  const shared = kernels.matvecParts === undefined ? null : sharedPass(ms);
  const first = shared === null ? 0 : shared.ws.length;
  if (shared !== null) {
    kernels.matvecParts!(
      shared.ws,
      rounded(ms[0]!, x, scratch),
      first === ys.length ? ys : prefixOf(ys, first),
    );
    for (let k = 0; k < first; k++) {
      const bias = ms[k]!.bias;
      if (bias) addBias(ys[k]!, bias);
    }
  }
  for (let k = first; k < ms.length; k++) applyLinear(kernels, ms[k]!, x, ys[k]!, scratch);
}

/**
 * The leading matrices of a group that can share one pass: ms[0] and those right after it with
 * its format, width and rounding (null: fewer than two). Kept per group array (a model's groups
 * are built once), checked against the Linears' current matrices.
 */
const sharedPasses = new WeakMap<readonly Linear[], { ws: WeightMatrix[] } | null>();
function sharedPass(ms: readonly Linear[]): { ws: WeightMatrix[] } | null {
  const kept = sharedPasses.get(ms);
  if (kept === null) return null;
  if (kept !== undefined) {
    let same = true;
    for (let k = 0; k < kept.ws.length; k++) same &&= kept.ws[k] === ms[k]!.w;
    if (same) return kept;
  }
  const m0 = ms[0]!;
  let count = 1;
  while (count < ms.length) {
    const m = ms[count]!;
    if (m.w.format !== m0.w.format || m.w.cols !== m0.w.cols || m.round !== m0.round) break;
    count++;
  }
  const pass = count < 2 ? null : { ws: ms.slice(0, count).map((m) => m.w) };
  sharedPasses.set(ms, pass);
  return pass;
}

/** The first `count` outputs of a list, one array per list kept for the next call. */
const prefixes = new WeakMap<readonly Float32Array[], Float32Array[]>();
function prefixOf(ys: readonly Float32Array[], count: number): Float32Array[] {
  const kept = prefixes.get(ys);
  let same = kept !== undefined && kept.length === count;
  for (let k = 0; same && k < count; k++) same = kept![k] === ys[k];
  if (same) return kept!;
  const p = ys.slice(0, count);
  prefixes.set(ys, p);
  return p;
}

/** x, or x rounded to the weight's activation type (scratch.rounded) as ggml's matmul converts it. */
function rounded(m: Linear, x: Float32Array, scratch: LinearScratch): Float32Array {
  if (m.round === undefined) return x;
  const halves = scratch.halves.subarray(0, x.length);
  const input = scratch.rounded.subarray(0, x.length);
  if (m.round === "f16") fromF16(toF16(x, halves), input);
  else fromBf16(toBf16(x, halves), input);
  return input;
}

export function applyLinear(
  kernels: MatvecKernels,
  m: Linear,
  x: Float32Array,
  y: Float32Array,
  scratch: LinearScratch,
): void {
  kernels.matvec(m.w, rounded(m, x, scratch), y);
  if (m.bias) addBias(y, m.bias);
}
