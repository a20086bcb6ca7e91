/**
 * Paged attention and the refined 4-bit KV encoder of libllmem (kv-cache's native paths).
 * Callers validate shapes and block ids first (kv-cache's checkPagedArgs); pointers are derived
 * here, each bounded by viewPtr.
 */
import { FORMATS, LlmemError } from "@llmem/core";
import { loaded } from "./loaded.ts";
import type { PagedCall } from "./metal.ts";
import { LLMEM_EBOUNDS, lastCapacity, throwRefusal, typedPtr, viewPtr } from "./pointers.ts";

/** True when libllmem's CPU paged-attention kernel runs (else kv-cache takes its TS path). */
export function pagedNative(): boolean {
  return loaded() !== null;
}

/** libllmem's paged attention on the CPU; scratch holds numTokens*numHeads + 32*headDim floats. */
export function nativePagedAttention(a: PagedCall, scratch: Float32Array): void {
  // Each field read once: a getter returning one value to the checks and another to C cannot
  // widen what C touches. Every view C writes is bounded by the count C will write.
  const { format, query, numHeads, numKvHeads, headDim, kBytes, vBytes, blockTable } = a;
  const { numBlocks, blockSize, numTokens, scale, out, lse } = a;
  const need = numTokens * numHeads + 32 * headDim;
  const rc = loaded()!.llmem_paged_attention_checked(
    FORMATS[format].id,
    typedPtr("query", query, "Float32Array", 0, numHeads * headDim),
    lastCapacity(),
    numHeads,
    numKvHeads,
    headDim,
    viewPtr("kPool", kBytes),
    lastCapacity(),
    viewPtr("vPool", vBytes),
    lastCapacity(),
    typedPtr("blockTable", blockTable, "Uint32Array", 0, numBlocks),
    lastCapacity(),
    blockSize,
    numTokens,
    scale,
    typedPtr("scratch", scratch, "Float32Array", 0, need),
    lastCapacity(),
    typedPtr("out", out, "Float32Array", 0, numHeads * headDim),
    lastCapacity(),
    typedPtr("lse", lse, "Float32Array", 0, numHeads),
    lastCapacity(),
  );
  if (rc !== 0) throwRefusal(rc, "llmem_paged_attention", "INVALID_ARGUMENT");
}

/**
 * Encodes src[0..n) as q4_0/q4_1 blocks at dst[at..) with libllmem's error-minimising search;
 * false when native is off (the caller runs its TS search).
 */
export function nativeQuantizeRefined(
  format: "q4_0" | "q4_1",
  src: Float32Array,
  n: number,
  dst: Uint8Array,
  at: number,
  bytes: number,
): boolean {
  const lib = loaded();
  if (lib === null) return false;
  const rc = lib.llmem_kv_quantize_refined_checked(
    FORMATS[format].id,
    typedPtr("src", src, "Float32Array", 0, n),
    lastCapacity(),
    viewPtr("dst", dst, at, bytes),
    lastCapacity(),
    n,
  );
  if (rc === LLMEM_EBOUNDS) throwRefusal(rc, "llmem_kv_quantize_refined", "INVALID_ARGUMENT");
  if (rc !== 0)
    throw new LlmemError("INVALID_ARGUMENT", `src must hold whole 32-value blocks, got ${n}`, {
      argument: "src",
    });
  return true;
}
