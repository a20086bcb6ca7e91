/* The format-generic entry points the binding calls; each forwards to a per-format kernel. */
#include "quant_internal.h"

int llmem_quantize(int format, const float *src, void *dst, size_t n) {
  if (n % LLMEM_QK) return -1;
  uint8_t *y = dst;
  switch (format) {
  case LLMEM_Q8_0: llmem_quantize_q8_0(src, y, n); return 0;
  case LLMEM_Q4_0: llmem_quantize_q4_0(src, y, n); return 0;
  case LLMEM_Q4_1: llmem_quantize_q4_1(src, y, n); return 0;
  case LLMEM_Q8_1: llmem_quantize_q8_1(src, y, n); return 0;
  default: return -1;
  }
}

int llmem_dequantize(int format, const void *src, float *dst, size_t n) {
  if (n % LLMEM_QK) return -1;
  const uint8_t *x = src;
  switch (format) {
  case LLMEM_Q8_0: llmem_dequantize_q8_0(x, dst, n); return 0;
  case LLMEM_Q4_0: llmem_dequantize_q4_0(x, dst, n); return 0;
  case LLMEM_Q4_1: llmem_dequantize_q4_1(x, dst, n); return 0;
  case LLMEM_Q8_1: llmem_dequantize_q8_1(x, dst, n); return 0;
  default: return -1;
  }
}
