import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's attention building blocks (see native/include/llmem.h: the
// vectors' capacities, count and head_dim are u32, the rows' sizes u64).
const { ptr, u64, u32, i32, f32 } = FFIType;

export const attentionSymbols = {
  // format, query, query_bytes, base, base_bytes, offset, stride, count, head_dim, scale, out, out_bytes
  llmem_attn_scores_checked: {
    args: [i32, ptr, u32, ptr, u64, u64, u64, u32, u32, f32, ptr, u32],
    returns: i32,
  },
  // format, weights, weights_bytes, base, base_bytes, offset, stride, count, head_dim, out, out_bytes
  llmem_attn_weighted_sum_checked: {
    args: [i32, ptr, u32, ptr, u64, u64, u64, u32, u32, ptr, u32],
    returns: i32,
  },
} as const;
