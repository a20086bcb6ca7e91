/* Row codecs and f32 vector helpers the paged-attention kernel is built from, one set per
 * ISA (scalar reference, AVX2+FMA+F16C, NEON). Internal to libllmem. */
#ifndef LLMEM_PAGED_KV_ROWS_H
#define LLMEM_PAGED_KV_ROWS_H

#include <string.h>

#include "../internal.h"

typedef struct {
  /* Decodes one row of n values (n a multiple of 32 for block formats) into dst. */
  void (*decode)(int format, const uint8_t *row, float *dst, size_t n);
  float (*dot)(const float *a, const float *b, size_t n);
  /* y += w * x */
  void (*axpy)(float w, const float *x, float *y, size_t n);
} kv_row_ops;

extern const kv_row_ops kv_row_ops_scalar;
#if LLMEM_X86
extern const kv_row_ops kv_row_ops_avx2;
#endif
#if LLMEM_ARM
extern const kv_row_ops kv_row_ops_neon;
#endif

/* IEEE half and bfloat16 to float, exact (subnormals, inf, NaN). */
static inline float kv_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 113;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static inline float kv_bf16_to_f32(uint16_t h) {
  const uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static inline uint16_t kv_load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

#endif
