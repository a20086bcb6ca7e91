import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's hash functions (see native/include/llmem.h, "hashing").
export const hashSymbols = {
  // tokens, tokens_bytes, n_tokens, extra, extra_bytes, n_extra, parent
  llmem_hash64_checked: {
    args: [FFIType.ptr, FFIType.u64, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.u64, FFIType.u64],
    returns: FFIType.u64,
  },
  // tokens, tokens_bytes, block_size, n_blocks, extra, extra_bytes, offsets, offsets_bytes, parent,
  // out, out_bytes
  llmem_hash64_chain_checked: {
    args: [
      FFIType.ptr,
      FFIType.u64,
      FFIType.u64,
      FFIType.u64,
      FFIType.ptr,
      FFIType.u64,
      FFIType.ptr,
      FFIType.u64,
      FFIType.u64,
      FFIType.ptr,
      FFIType.u64,
    ],
    returns: FFIType.i32,
  },
} as const;
