/**
 * Byte layouts of the row formats the caches store, and the format names each cache accepts.
 * A "row" is one head's headDim values of one token (or, for channel-grouped keys, one
 * channel's 32 tokens); block formats pack 32 values per block as GGML does.
 */
import { LlmemError } from "@llmem/core";
import { isBlockFormat, type RowFormat } from "@llmem/native";
import { QK } from "@llmem/quant-kernels";

/** Every row format (from the format table); the cache policies below pick among them. */
export { isBlockFormat, ROW_FORMATS } from "@llmem/native";
/** Formats the attention building blocks read directly; their block size and row bytes. */
export { QK, type RowFormat, rowBytes } from "@llmem/quant-kernels";

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
