import { FFIType } from "bun:ffi";

// The format table's description (native/src/formats.c), read once to check the TS table.
export const formatSymbols = {
  llmem_format_count: { args: [], returns: FFIType.i32 },
  llmem_format_name: { args: [FFIType.i32], returns: FFIType.cstring },
  llmem_format_describe: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
} as const;
