import { FFIType } from "bun:ffi";

export const kernelSymbols = {
  llmem_dot_f32_checked: {
    args: [FFIType.ptr, FFIType.u32, FFIType.ptr, FFIType.u32, FFIType.u32],
    returns: FFIType.f32,
  },
  llmem_last_error: { args: [], returns: FFIType.i32 },
} as const;
