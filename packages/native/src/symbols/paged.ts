import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's paged functions (see native/include/llmem.h).
export const pagedSymbols = {
  llmem_kv_row_bytes: { args: [FFIType.i32, FFIType.u64], returns: FFIType.u64 },
  llmem_kv_quantize_refined_checked: {
    args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.u64],
    returns: FFIType.i32,
  },
  llmem_paged_attention_checked: {
    args: [
      FFIType.i32, // format
      FFIType.ptr, // query
      FFIType.u64, // query_bytes
      FFIType.u64, // num_heads
      FFIType.u64, // num_kv_heads
      FFIType.u64, // head_dim
      FFIType.ptr, // k_pool
      FFIType.u64, // k_bytes
      FFIType.ptr, // v_pool
      FFIType.u64, // v_bytes
      FFIType.ptr, // block_table
      FFIType.u64, // table_bytes
      FFIType.u64, // block_size
      FFIType.u64, // num_tokens
      FFIType.f32, // scale
      FFIType.ptr, // scratch
      FFIType.u64, // scratch_bytes
      FFIType.ptr, // out
      FFIType.u64, // out_bytes
      FFIType.ptr, // lse
      FFIType.u64, // lse_bytes
    ],
    returns: FFIType.i32,
  },
  llmem_paged_attention_chunk_checked: {
    args: [
      FFIType.i32, // format
      FFIType.ptr, // queries
      FFIType.u64, // queries_bytes
      FFIType.u64, // num_queries
      FFIType.u64, // num_heads
      FFIType.u64, // num_kv_heads
      FFIType.u64, // head_dim
      FFIType.ptr, // k_pool
      FFIType.u64, // k_bytes
      FFIType.ptr, // v_pool
      FFIType.u64, // v_bytes
      FFIType.ptr, // block_table
      FFIType.u64, // table_bytes
      FFIType.u64, // block_size
      FFIType.u64, // first_tokens
      FFIType.f32, // scale
      FFIType.ptr, // scratch
      FFIType.u64, // scratch_bytes (the kernel's scratch_floats: a quarter of it)
      FFIType.ptr, // out
      FFIType.u64, // out_bytes
      FFIType.ptr, // lse
      FFIType.u64, // lse_bytes
    ],
    returns: FFIType.i32,
  },
} as const;
