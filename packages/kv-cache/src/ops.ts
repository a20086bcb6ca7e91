/**
 * The one place the caches reach the attention building blocks and row codecs: every row
 * format, bf16 included, goes through @llmem/quant-kernels (native when libllmem is loaded).
 */
export { attentionScores, attentionWeightedSum } from "@llmem/quant-kernels";
export { decodeRow, encodeRow } from "./row-kernels.ts";
