import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's element-wise chunk steps (see native/include/llmem.h).
export const rowSymbols = {
  llmem_rmsnorm_rows_checked: {
    // style, x, x_bytes, weight, weight_bytes, rows, dim, eps, out, out_bytes
    args: [
      FFIType.i32,
      FFIType.ptr,
      FFIType.u64,
      FFIType.ptr,
      FFIType.u64,
      FFIType.u64,
      FFIType.u64,
      FFIType.f32,
      FFIType.ptr,
      FFIType.u64,
    ],
    returns: FFIType.i32,
  },
  llmem_rope_rows_checked: {
    args: [
      FFIType.ptr, // v
      FFIType.u64, // v_bytes
      FFIType.u64, // rows
      FFIType.u64, // width
      FFIType.u64, // head_size
      FFIType.u64, // dims
      FFIType.i32, // neox
      FFIType.ptr, // cos
      FFIType.u64, // cos_bytes
      FFIType.ptr, // sin
      FFIType.u64, // sin_bytes
      FFIType.u64, // table_stride
    ],
    returns: FFIType.i32,
  },
  llmem_swiglu_checked: {
    args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.u64],
    returns: FFIType.i32,
  },
  llmem_add_checked: {
    args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.u64],
    returns: FFIType.i32,
  },
} as const;
