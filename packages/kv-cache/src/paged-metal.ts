/**
 * Paged attention on the GPU (macOS, Metal): the same arguments and results as
 * `pagedAttention` (up to f32 summation order and the GPU's exp), used when the pools are
 * Metal buffers (views of a MetalBuffer or of a "metal" BucketPool's buffers: read in place)
 * or when asked (`force`, or LLMEM_METAL=1: pools in ordinary memory are then gathered block
 * by block into a GPU buffer on every call), falling back to the CPU kernel whenever Metal is
 * missing or fails. LLMEM_METAL=0 keeps everything on the CPU.
 */
import { metalAvailable, metalHolds, metalPagedAttention, type PagedCall } from "@llmem/native";

import {
  checkPagedArgs,
  type PagedAttentionArgs,
  pagedAttentionTrusted,
  pagedCall,
  snapshotPagedArgs,
} from "./paged-kernel.ts";

export interface MetalAttentionOptions {
  /** Use the GPU even for pools in ordinary memory (default: LLMEM_METAL=1). */
  force?: boolean;
}

/** True when libllmem is loaded with a Metal device and LLMEM_METAL is not "0": @llmem/native's one check. */
export { metalAvailable };

/**
 * `pagedAttention` on the GPU when Metal is available and wanted (both pools inside Metal
 * buffers, `force`, or LLMEM_METAL=1), otherwise, or if the GPU fails, on the CPU. Returns
 * where it ran. Invalid arguments throw the same LlmemErrors either way.
 */
export function pagedAttentionMetal(
  args: PagedAttentionArgs,
  options: MetalAttentionOptions = {},
): "metal" | "cpu" {
  const a = snapshotPagedArgs(args);
  const { format, numBlocks } = checkPagedArgs(a);
  return pagedAttentionMetalTrusted(pagedCall(a, format, numBlocks), options.force === true);
}

/**
 * pagedAttentionMetal for a caller holding checkPagedArgs's guarantees (PagedKvCache, with
 * block ids from its own allocator): no check of every block id, no allocation.
 */
export function pagedAttentionMetalTrusted(call: PagedCall, force = false): "metal" | "cpu" {
  if (call.numTokens > 0 && metalAvailable()) {
    const wanted =
      force || (metalHolds(call.kBytes) && metalHolds(call.vBytes)) || process.env.LLMEM_METAL === "1";
    if (wanted && metalPagedAttention(call)) return "metal";
  }
  pagedAttentionTrusted(call);
  return "cpu";
}
