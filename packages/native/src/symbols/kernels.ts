import { FFIType } from "bun:ffi";

export const kernelSymbols = {
  llmem_dot_f32: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.f32 },
} as const;
