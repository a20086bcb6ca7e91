import { FFIType } from "bun:ffi";

export const memorySymbols = {
  llmem_alloc: { args: [FFIType.u64, FFIType.u64], returns: FFIType.ptr },
  llmem_free: { args: [FFIType.ptr], returns: FFIType.void },
  llmem_free_deallocator: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.void },
  llmem_zero_checked: { args: [FFIType.ptr, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  llmem_copy_checked: {
    args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.u64],
    returns: FFIType.i32,
  },
  llmem_live_bytes: { args: [], returns: FFIType.u64 },
} as const;
