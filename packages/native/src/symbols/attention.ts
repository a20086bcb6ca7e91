import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's attention building blocks (see native/include/llmem.h).
const { ptr, u64, i32, f32 } = FFIType;

export const attentionSymbols = {
  llmem_attn_scores: { args: [i32, ptr, ptr, u64, u64, u64, u64, f32, ptr], returns: i32 },
  llmem_attn_weighted_sum: { args: [i32, ptr, ptr, u64, u64, u64, u64, ptr], returns: i32 },
} as const;
