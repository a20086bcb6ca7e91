import { FFIType } from "bun:ffi";

export const runtimeSymbols = {
  llmem_version: { args: [], returns: FFIType.cstring },
  llmem_detect_isa: { args: [], returns: FFIType.i32 },
  llmem_active_isa: { args: [], returns: FFIType.i32 },
  llmem_set_isa: { args: [FFIType.i32], returns: FFIType.i32 },
} as const;
