/**
 * Paged attention on the GPU (macOS, Metal): the same arguments and results as
 * `pagedAttention` (up to f32 summation order and the GPU's exp), used when the pools are
 * Metal buffers (views of a MetalBuffer or of a "metal" BucketPool's buffers: read in place)
 * or when asked (`force`, or LLMEM_METAL=1: pools in ordinary memory are then gathered block
 * by block into a GPU buffer on every call), falling back to the CPU kernel whenever Metal is
 * missing or fails. LLMEM_METAL=0 keeps everything on the CPU.
 */
import { FORMATS, nativeLib, viewPtr } from "@llmem/native";

import { checkPagedArgs, type PagedAttentionArgs, pagedAttention } from "./paged-kernel.ts";

export interface MetalAttentionOptions {
  /** Use the GPU even for pools in ordinary memory (default: LLMEM_METAL=1). */
  force?: boolean;
}

let available: boolean | undefined;

/** True when libllmem is loaded with a Metal device and LLMEM_METAL is not "0". */
export function metalAttentionAvailable(): boolean {
  if (process.env.LLMEM_METAL === "0") return false;
  if (available === undefined) {
    const lib = nativeLib();
    available = lib !== null && lib.llmem_metal_available() === 1;
  }
  return available;
}

/**
 * `pagedAttention` on the GPU when Metal is available and wanted (both pools inside Metal
 * buffers, `force`, or LLMEM_METAL=1), otherwise, or if the GPU fails, on the CPU. Returns
 * where it ran. Invalid arguments throw the same LlmemErrors either way.
 */
export function pagedAttentionMetal(
  a: PagedAttentionArgs,
  options: MetalAttentionOptions = {},
): "metal" | "cpu" {
  const lib = nativeLib();
  // Without Metal this is the CPU kernel, which validates for itself (the decode hot path).
  if (lib === null || !metalAttentionAvailable() || a.numTokens === 0) {
    pagedAttention(a);
    return "cpu";
  }
  const { format } = checkPagedArgs(a);
  const kBytes = new Uint8Array(a.kPool.buffer, a.kPool.byteOffset, a.kPool.byteLength);
  const vBytes = new Uint8Array(a.vPool.buffer, a.vPool.byteOffset, a.vPool.byteLength);
  const kPtr = viewPtr("kPool", kBytes);
  const vPtr = viewPtr("vPool", vBytes);
  const inMetal =
    lib.llmem_metal_holds(kPtr, kBytes.length) === 1 && lib.llmem_metal_holds(vPtr, vBytes.length) === 1;
  if (!inMetal && options.force !== true && process.env.LLMEM_METAL !== "1") {
    pagedAttention(a);
    return "cpu";
  }
  const rc = lib.llmem_metal_paged_attention(
    FORMATS[format].id,
    viewPtr("query", a.query),
    a.numHeads,
    a.numKvHeads,
    a.headDim,
    kPtr,
    kBytes.length,
    vPtr,
    vBytes.length,
    viewPtr("blockTable", a.blockTable, 0, Math.ceil(a.numTokens / a.blockSize)),
    a.blockSize,
    a.numTokens,
    a.scale,
    viewPtr("out", a.out),
    viewPtr("lse", a.lse),
  );
  if (rc === 0) return "metal";
  pagedAttention(a);
  return "cpu";
}
