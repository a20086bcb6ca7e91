/**
 * The one place the caches reach the attention building blocks and row codecs:
 * @llmem/quant-kernels for every format it reads (native when libllmem is loaded), the
 * decode-then-dot rows here for bf16 tails.
 */
import type { TypedArray } from "@llmem/core";
import * as qk from "@llmem/quant-kernels";
import type { RowFormat } from "./row-formats.ts";
import { type ScoresOptions, scoresTs, type WeightedSumOptions, weightedSumTs } from "./row-kernels.ts";

export { decodeRow, encodeRow } from "./row-kernels.ts";

/** out[outOffset + t] = scale · (query · key_t), key_t at offsetBytes + t·strideBytes. */
export function attentionScores(
  format: RowFormat,
  query: Float32Array,
  keys: TypedArray,
  o: ScoresOptions,
  out: Float32Array,
  outOffset = 0,
): void {
  if (format === "bf16") scoresTs(format, query, keys, o, out, outOffset);
  else qk.attentionScores(format, query, keys, o, out, outOffset);
}

/** out[d] += Σ_t weights[weightsOffset + t] · value_t[d]. */
export function attentionWeightedSum(
  format: RowFormat,
  weights: Float32Array,
  values: TypedArray,
  o: WeightedSumOptions,
  out: Float32Array,
): void {
  if (format === "bf16") weightedSumTs(format, weights, values, o, out);
  else qk.attentionWeightedSum(format, weights, values, o, out);
}

/** Softmax of a[0..n) in place (max-subtracted, so large scores cannot overflow). */
export function softmaxInPlace(a: Float32Array, n: number): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (a[i]! > max) max = a[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(a[i]! - max);
    a[i] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let i = 0; i < n; i++) a[i]! *= inv;
}
