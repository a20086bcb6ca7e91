import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's hash functions (see native/include/llmem.h, "hashing").
export const hashSymbols = {
  llmem_hash64: {
    args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.u64],
    returns: FFIType.u64,
  },
  llmem_hash64_chain: {
    args: [FFIType.ptr, FFIType.u64, FFIType.u64, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr],
    returns: FFIType.void,
  },
} as const;
