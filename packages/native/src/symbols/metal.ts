import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's Metal functions (present in every build; 0 off macOS).
export const metalSymbols = {
  llmem_metal_available: { args: [], returns: FFIType.i32 },
} as const;
