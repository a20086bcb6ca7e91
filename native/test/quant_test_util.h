/* Helpers for the quant-kernels C tests: edge-case blocks and bytewise comparisons. */
#ifndef LLMEM_QUANT_TEST_UTIL_H
#define LLMEM_QUANT_TEST_UTIL_H

#include "harness.h"

static const int QT_FORMATS[] = {LLMEM_Q8_0, LLMEM_Q4_0, LLMEM_Q4_1, LLMEM_Q8_1};
static const size_t QT_BLOCK_BYTES[] = {0, 0, 0, 34, 18, 20, 36};
static const char *QT_NAMES[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q8_1"};

static inline float qt_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Fills 32 values of block kind k (0..QT_EDGE_KINDS-1): zeros of both signs, scales that
 * underflow fp16 or overflow 1/d, exact .5 ties, negative-dominant, |max| ties, huge, Inf. */
#define QT_EDGE_KINDS 20
static void qt_edge_block(int k, float *x) {
  for (int j = 0; j < 32; j++) {
    const float r = t_rand_f32(-1, 1);
    float v;
    switch (k) {
    case 0: v = 0.0f; break;
    case 1: v = j % 2 ? -0.0f : 0.0f; break;
    case 2: v = (float)(j - 16) * 1e-9f; break;
    case 3: v = (float)(j - 16) * 1e-6f; break;
    case 4: v = (float)(j - 16) * 1e-38f; break;
    case 5: v = j == 3 ? qt_bits(0x00011111) : 0.0f; break; /* subnormal f32 amax */
    case 6: v = j == 0 ? 127.0f : (float)(j % 64) - 31.5f; break;
    case 7: v = j == 0 ? -8.0f : j % 2 ? 0.5f : -0.5f; break;
    case 8: v = j == 0 ? 15.0f : (float)j / 2; break;
    case 9: v = -fabsf(r) * 3 - (j == 5 ? 10.0f : 0.0f); break;
    case 10: v = j == 4 ? -2.0f : j == 9 ? 2.0f : r; break;
    case 11: v = j == 4 ? 2.0f : j == 9 ? -2.0f : r; break;
    case 12: v = (float)(j - 16) * 1e30f; break;
    case 13: v = j == 7 ? INFINITY : (float)j; break;
    case 14: v = j == 7 ? -INFINITY : -(float)j; break;
    case 15: v = -3.25f; break;
    case 16: v = j == 31 ? 1000.0f : 0.001f * (float)j; break;
    case 17: v = j % 2 ? 65504.0f : -65504.0f; break;
    case 18: v = j % 3 ? 3.4e38f : -3.4e38f; break;
    default: v = j % 2 ? -0.0f : 0.0f; if (j == 20) v = -1e-3f; break;
    }
    x[j] = v;
  }
}

/* Equal bit patterns, any NaN matching any NaN. */
static int qt_same_f32(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) && isnan(b[i])) continue;
    if (memcmp(a + i, b + i, 4) != 0) return 0;
  }
  return 1;
}

#endif
