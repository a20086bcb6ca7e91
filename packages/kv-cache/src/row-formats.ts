/**
 * Byte layouts of the row formats the caches store, and the format names each cache accepts.
 * A "row" is one head's headDim values of one token (or, for channel-grouped keys, one
 * channel's 32 tokens); block formats pack 32 values per block as GGML does.
 */
import { DTYPES, LlmemError } from "@llmem/core";
import { QK, type RowFormat } from "@llmem/quant-kernels";

/** Formats the attention building blocks read directly; their block size and row bytes. */
export { QK, type RowFormat, rowBytes } from "@llmem/quant-kernels";
export type TailPrecision = "f32" | "f16" | "bf16";
export type StorePrecision = "q8_0" | "q4_0" | "q4_1" | "f16";

export const TAIL_PRECISIONS: readonly TailPrecision[] = ["f32", "f16", "bf16"];
export const STORE_PRECISIONS: readonly StorePrecision[] = ["q8_0", "q4_0", "q4_1", "f16"];
export const ROW_FORMATS: readonly RowFormat[] = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"];

export function isBlockFormat(f: RowFormat): boolean {
  return DTYPES[f].blockSize > 1;
}

/** Block formats can hold neither NaN nor ±Inf (the block scale would poison every value). */
export function holdsNonFinite(f: RowFormat): boolean {
  return !isBlockFormat(f);
}

/** headDim must split into whole 32-value blocks for block formats. */
export function checkHeadDimFor(f: RowFormat, headDim: number, name = "headDim"): void {
  if (isBlockFormat(f) && headDim % QK !== 0) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} ${headDim} must be a multiple of ${QK} for ${f}`, {
      argument: name,
      value: headDim,
      format: f,
    });
  }
}
