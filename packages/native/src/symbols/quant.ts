import { FFIType } from "bun:ffi";

// FFI declarations for libllmem's quantization functions (see native/include/llmem.h).
const { ptr, u32, u64, i32, f32 } = FFIType;

// The dots take u32 sizes (checked.c says why); the binding proves each fits.
export const quantSymbols = {
  llmem_f32_to_f16_checked: { args: [ptr, u64, ptr, u64, u64], returns: i32 },
  llmem_f16_to_f32_checked: { args: [ptr, u64, ptr, u64, u64], returns: i32 },
  llmem_f32_to_bf16_checked: { args: [ptr, u64, ptr, u64, u64], returns: i32 },
  llmem_bf16_to_f32_checked: { args: [ptr, u64, ptr, u64, u64], returns: i32 },
  llmem_quantize_checked: { args: [i32, ptr, u64, ptr, u64, u64], returns: i32 },
  llmem_dequantize_checked: { args: [i32, ptr, u64, ptr, u64, u64], returns: i32 },
  llmem_dot_q8_0_q8_0_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q4_0_q8_0_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q4_1_q8_1_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q2_k_q8_k_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q3_k_q8_k_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q4_k_q8_k_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q6_k_q8_k_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q5_k_q8_k_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q5_0_q8_0_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_q5_1_q8_1_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_iq4_nl_q8_0_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_iq4_xs_q8_k_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_dot_f16_f32_checked: { args: [ptr, u32, ptr, u32, u32], returns: f32 },
  llmem_matvec_checked: { args: [i32, ptr, u64, u32, u32, ptr, u32, ptr, u32, ptr, u32], returns: i32 },
  llmem_matmul_checked: { args: [i32, ptr, u64, u64, u64, ptr, u64, u64, ptr, u64, ptr, u64], returns: i32 },
  llmem_matmul_scratch_stride: { args: [i32, u64], returns: u64 },
  llmem_set_threads: { args: [i32], returns: i32 },
  llmem_get_threads: { args: [], returns: i32 },
  llmem_read_bytes_checked: { args: [ptr, u64, u64], returns: u64 },
  llmem_metal_dequantize_checked: { args: [i32, ptr, u64, ptr, u64, u64], returns: i32 },
  llmem_metal_matvec_checked: { args: [i32, ptr, u64, u64, u64, ptr, u64, ptr, u64], returns: i32 },
} as const;
