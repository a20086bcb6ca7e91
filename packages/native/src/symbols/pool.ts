import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's Metal buffer-pool functions (see the Metal section of
// native/include/llmem.h). Present in every build: off macOS they are stubs that fail.
export const poolSymbols = {
  llmem_metal_buffer_new: { args: [FFIType.u64], returns: FFIType.ptr },
  llmem_metal_buffer_release: { args: [FFIType.ptr], returns: FFIType.void },
  llmem_metal_buffer_contents: { args: [FFIType.ptr], returns: FFIType.ptr },
  llmem_metal_buffer_length: { args: [FFIType.ptr], returns: FFIType.u64 },
  llmem_metal_buffer_on_device: { args: [FFIType.ptr], returns: FFIType.i32 },
  llmem_metal_holds: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  llmem_metal_residency_new: { args: [], returns: FFIType.ptr },
  llmem_metal_residency_release: { args: [FFIType.ptr], returns: FFIType.void },
  llmem_metal_residency_add: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  llmem_metal_residency_remove: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  llmem_metal_residency_commit: { args: [FFIType.ptr], returns: FFIType.void },
  llmem_metal_residency_count: { args: [FFIType.ptr], returns: FFIType.u64 },
} as const;
