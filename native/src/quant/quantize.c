/* The format-generic entry points the binding calls: each looks its format up in the format
 * table (formats.c) and runs the kernel the active ISA selected. */
#include "../formats.h"

int llmem_quantize(int format, const float *src, void *dst, size_t n) {
  if (!llmem_format_has(format, LLMEM_FORMAT_QUANT) || n % (size_t)llmem_formats[format].block_size) return -1;
  llmem_format_kernels_active[format].from_float(src, dst, n);
  return 0;
}

int llmem_dequantize(int format, const void *src, float *dst, size_t n) {
  if (!llmem_format_has(format, LLMEM_FORMAT_QUANT) || n % (size_t)llmem_formats[format].block_size) return -1;
  llmem_format_kernels_active[format].to_float(src, dst, n);
  return 0;
}

void llmem_f32_to_f16(const float *src, uint16_t *dst, size_t n) { llmem_format_kernels_active[LLMEM_F16].from_float(src, dst, n); }
void llmem_f16_to_f32(const uint16_t *src, float *dst, size_t n) { llmem_format_kernels_active[LLMEM_F16].to_float(src, dst, n); }
void llmem_f32_to_bf16(const float *src, uint16_t *dst, size_t n) { llmem_format_kernels_active[LLMEM_BF16].from_float(src, dst, n); }
void llmem_bf16_to_f32(const uint16_t *src, float *dst, size_t n) { llmem_format_kernels_active[LLMEM_BF16].to_float(src, dst, n); }

float llmem_dot_f32(const float *a, const float *b, size_t n) { return llmem_format_kernels_active[LLMEM_F32].vec_dot(a, b, n); }
float llmem_dot_f16_f32(const uint16_t *x, const float *y, size_t n) { return llmem_format_kernels_active[LLMEM_F16].vec_dot(x, y, n); }
float llmem_dot_q8_0_q8_0(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q8_0].vec_dot(x, y, n); }
float llmem_dot_q4_0_q8_0(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q4_0].vec_dot(x, y, n); }
float llmem_dot_q4_1_q8_1(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q4_1].vec_dot(x, y, n); }
float llmem_dot_q2_k_q8_k(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q2_K].vec_dot(x, y, n); }
float llmem_dot_q3_k_q8_k(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q3_K].vec_dot(x, y, n); }
float llmem_dot_q4_k_q8_k(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q4_K].vec_dot(x, y, n); }
float llmem_dot_q5_k_q8_k(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q5_K].vec_dot(x, y, n); }
float llmem_dot_q6_k_q8_k(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q6_K].vec_dot(x, y, n); }
float llmem_dot_iq4_nl_q8_0(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_IQ4_NL].vec_dot(x, y, n); }
float llmem_dot_iq4_xs_q8_k(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_IQ4_XS].vec_dot(x, y, n); }
float llmem_dot_q5_0_q8_0(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q5_0].vec_dot(x, y, n); }
float llmem_dot_q5_1_q8_1(const void *x, const void *y, size_t n) { return llmem_format_kernels_active[LLMEM_Q5_1].vec_dot(x, y, n); }
