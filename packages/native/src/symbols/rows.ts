import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's element-wise chunk steps (see native/include/llmem.h).
export const rowSymbols = {
  llmem_rmsnorm_rows: {
    args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.u64, FFIType.f32, FFIType.ptr],
    returns: FFIType.i32,
  },
  llmem_rope_rows: {
    args: [
      FFIType.ptr, // v
      FFIType.u64, // rows
      FFIType.u64, // width
      FFIType.u64, // head_size
      FFIType.u64, // dims
      FFIType.i32, // neox
      FFIType.ptr, // cos
      FFIType.ptr, // sin
      FFIType.u64, // table_stride
    ],
    returns: FFIType.i32,
  },
  llmem_swiglu: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  llmem_add: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.void },
} as const;
