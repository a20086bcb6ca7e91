import { FFIType } from "bun:ffi";

const { i32, u64, f32, ptr } = FFIType;

// FFI declarations for libllmem's Metal functions (present in every build; stubs off macOS
// report "no device" / -1).
export const metalSymbols = {
  llmem_metal_available: { args: [], returns: i32 },
  llmem_metal_paged_attention_checked: {
    // format, query, queryBytes, numHeads, numKvHeads, headDim, kPool, kBytes, vPool, vBytes,
    // blockTable, tableBytes, blockSize, numTokens, scale, out, outBytes, lse, lseBytes
    args: [i32, ptr, u64, u64, u64, u64, ptr, u64, ptr, u64, ptr, u64, u64, u64, f32, ptr, u64, ptr, u64],
    returns: i32,
  },
} as const;
