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

/** Scratch of nativePagedAttentionChunk, grown to the largest chunk seen (one per process: JS is single-threaded). */
let chunkScratch = new Float32Array(0);

/**
 * libllmem's causal attention of a chunk of `numQueries` queries in one call: `a.query` and
 * `a.out` hold numQueries × numHeads × headDim floats, `a.lse` numQueries × numHeads, and query i
 * attends over the first `a.numTokens + i` tokens of the table (`a.numTokens` >= 1; the table's
 * `a.numBlocks` blocks must cover numTokens + numQueries - 1 tokens). Bit for bit what
 * nativePagedAttention gives each query alone. Block ids are the caller's to check (as there).
 */
export function nativePagedAttentionChunk(a: PagedCall, numQueries: number): void {
  const { format, query, numHeads, numKvHeads, headDim, kBytes, vBytes, blockTable } = a;
  const { numBlocks, blockSize, numTokens, scale, out, lse } = a;
  const fail = (argument: string, message: string): never => {
    throw new LlmemError("INVALID_ARGUMENT", message, { argument });
  };
  if (!Number.isSafeInteger(numQueries) || numQueries < 1)
    fail("numQueries", `numQueries must be an integer >= 1, got ${numQueries}`);
  if (!Number.isSafeInteger(numTokens) || numTokens < 1)
    fail("numTokens", `numTokens must be an integer >= 1, got ${numTokens}`);
  if (!Number.isSafeInteger(blockSize) || blockSize < 1)
    fail("blockSize", `blockSize must be an integer >= 1, got ${blockSize}`);
  const last = numTokens + numQueries - 1;
  const tableBlocks = Math.ceil(last / blockSize);
  if (!(numBlocks >= tableBlocks)) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `numBlocks ${numBlocks} of ${blockSize} tokens cannot hold the ${last} tokens the chunk's last query attends over`,
      { argument: "numBlocks", requested: tableBlocks, limit: numBlocks },
    );
  }
  const lib = loaded()!;
  // A few slots per thread spread the queries over the pool (see llmem_paged_attention_chunk).
  const slot = last * numHeads + 32 * headDim;
  const slots = Math.min(numQueries, 4 * lib.llmem_get_threads());
  if (chunkScratch.length < slots * slot) chunkScratch = new Float32Array(slots * slot);
  const floats = numQueries * numHeads * headDim;
  const rc = lib.llmem_paged_attention_chunk_checked(
    FORMATS[format].id,
    typedPtr("query", query, "Float32Array", 0, floats),
    lastCapacity(),
    numQueries,
    numHeads,
    numKvHeads,
    headDim,
    viewPtr("kPool", kBytes),
    lastCapacity(),
    viewPtr("vPool", vBytes),
    lastCapacity(),
    typedPtr("blockTable", blockTable, "Uint32Array", 0, tableBlocks),
    lastCapacity(),
    blockSize,
    numTokens,
    scale,
    // C uses whole slots of what it is given: exactly slots × slot floats, not the grown array.
    typedPtr("scratch", chunkScratch, "Float32Array", 0, slots * slot),
    slots * slot * 4,
    typedPtr("out", out, "Float32Array", 0, floats),
    lastCapacity(),
    typedPtr("lse", lse, "Float32Array", 0, numQueries * numHeads),
    lastCapacity(),
  );
  if (rc === LLMEM_EBOUNDS) throwRefusal(rc, "llmem_paged_attention_chunk", "INVALID_ARGUMENT");
  if (rc !== 0)
    fail(
      "format",
      `paged attention chunk refused format ${format} with ${numHeads}/${numKvHeads} heads of ${headDim}`,
    );
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
