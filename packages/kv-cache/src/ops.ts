/**
 * The one place the caches reach the attention building blocks and row codecs: every row
 * format, bf16 included, goes through @llmem/quant-kernels (native when libllmem is loaded).
 */
export { attentionScores, attentionWeightedSum } from "@llmem/quant-kernels";
export { decodeRow, encodeRow } from "./row-kernels.ts";

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
