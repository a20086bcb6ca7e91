/* Every ISA writes the scalar reference's bytes for every block format, fp16 and bf16. */
#include "quant_test_util.h"

static void check_format(int nisa, int fmt, const float *x, size_t n, const char *what) {
  const size_t bytes = n / 32 * QT_BLOCK_BYTES[fmt];
  uint8_t *want = malloc(bytes + 1), *got = malloc(bytes + 1);
  float *back_want = malloc((n + 1) * 4), *back_got = malloc((n + 1) * 4);
  llmem_set_isa(LLMEM_ISA_SCALAR);
  CHECK(llmem_quantize(fmt, x, want, n) == 0, "quantize %s", QT_NAMES[fmt]);
  CHECK(llmem_dequantize(fmt, want, back_want, n) == 0, "dequantize %s", QT_NAMES[fmt]);
  for (int k = 1; k < nisa; k++) {
    llmem_set_isa(t_isas[k]);
    memset(got, 0xAB, bytes + 1);
    llmem_quantize(fmt, x, got, n);
    CHECK(memcmp(got, want, bytes) == 0, "%s %s %s n=%zu: bytes differ", llmem_isa_name(t_isas[k]), QT_NAMES[fmt],
          what, n);
    CHECK(got[bytes] == 0xAB, "%s wrote past the end", QT_NAMES[fmt]);
    llmem_dequantize(fmt, want, back_got, n);
    CHECK(qt_same_f32(back_got, back_want, n), "%s dequantize %s %s n=%zu differs", llmem_isa_name(t_isas[k]),
          QT_NAMES[fmt], what, n);
  }
  free(want), free(got), free(back_want), free(back_got);
}

static void check_half(int nisa) {
  /* Every fp16 and bf16 bit pattern to f32, and random/hard f32 patterns back. */
  uint16_t *h = malloc(65536 * 2), *h_want = malloc(100003 * 2), *h_got = malloc(100003 * 2);
  float *f_want = malloc(65536 * 4), *f_got = malloc(65536 * 4), *x = malloc(100003 * 4);
  for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
  for (size_t i = 0; i < 100003; i++) {
    uint32_t u = t_rand_u32();
    if (i % 4 == 1) u = (u & 0x80000000u) | (0x33000000u + u % 0x05800000u); /* fp16 subnormals */
    if (i % 4 == 2) u = (u & 0x80000000u) | 0x7f800000u | (u & 0x7fffff);   /* Inf, NaN */
    if (i % 8 == 3) u = (u & ~0x1fffu) | 0x1000u;                           /* fp16 ties */
    memcpy(x + i, &u, 4);
  }
  llmem_set_isa(LLMEM_ISA_SCALAR);
  llmem_f16_to_f32(h, f_want, 65536);
  /* every non-NaN fp16 survives the round trip */
  uint16_t *round = malloc(65536 * 2);
  llmem_f32_to_f16(f_want, round, 65536);
  int bad = 0;
  for (int i = 0; i < 65536; i++) bad += ((i & 0x7c00) != 0x7c00 || !(i & 0x3ff)) && round[i] != i;
  CHECK(bad == 0, "fp16 round trip: %d values changed", bad);
  free(round);
  for (int k = 1; k < nisa; k++) {
    llmem_set_isa(LLMEM_ISA_SCALAR);
    llmem_f32_to_f16(x, h_want, 100003);
    llmem_set_isa(t_isas[k]);
    llmem_f32_to_f16(x, h_got, 100003);
    CHECK(memcmp(h_got, h_want, 100003 * 2) == 0, "%s f32->f16 differs", llmem_isa_name(t_isas[k]));
    llmem_f16_to_f32(h, f_got, 65536);
    CHECK(memcmp(f_got, f_want, 65536 * 4) == 0, "%s f16->f32 differs", llmem_isa_name(t_isas[k]));
    llmem_set_isa(LLMEM_ISA_SCALAR);
    llmem_f32_to_bf16(x, h_want, 100003);
    llmem_bf16_to_f32(h, f_want, 65536);
    llmem_set_isa(t_isas[k]);
    llmem_f32_to_bf16(x, h_got, 100003);
    CHECK(memcmp(h_got, h_want, 100003 * 2) == 0, "%s f32->bf16 differs", llmem_isa_name(t_isas[k]));
    llmem_bf16_to_f32(h, f_got, 65536);
    CHECK(memcmp(f_got, f_want, 65536 * 4) == 0, "%s bf16->f32 differs", llmem_isa_name(t_isas[k]));
    for (size_t s = 0; s < T_NSIZES && T_SIZES[s] < 5000; s++) { /* odd lengths: tails */
      const size_t n = T_SIZES[s];
      llmem_set_isa(LLMEM_ISA_SCALAR);
      llmem_f32_to_f16(x + 1, h_want, n);
      llmem_set_isa(t_isas[k]);
      llmem_f32_to_f16(x + 1, h_got, n);
      CHECK(n == 0 || memcmp(h_got, h_want, n * 2) == 0, "f32->f16 n=%zu differs", n);
    }
  }
  free(h), free(h_want), free(h_got), free(f_want), free(f_got), free(x);
}

/* Blocks whose amax is 127 (so d = 1 and x*id = x exactly) hold values at and around every
 * .5 tie: the SIMD rounding must agree with roundf on each. */
static void check_ties(int nisa) {
  const size_t nb = 255 * 6 / 31 + 1, n = nb * 32;
  float *x = malloc(n * 4);
  size_t i = 0;
  for (int k = -127; k < 127; k++) {
    const float t = (float)k + 0.5f, c[] = {t, nextafterf(t, -INFINITY), nextafterf(t, INFINITY)};
    for (int m = 0; m < 3; m++, i++) {
      if (i % 32 == 0) x[i++] = 127.0f;
      x[i] = c[m];
    }
  }
  for (; i < n; i++) x[i] = i % 32 == 0 ? 127.0f : 0.49999997f;
  check_format(nisa, LLMEM_Q8_0, x, n, "ties");
  check_format(nisa, LLMEM_Q8_1, x, n, "ties");
  free(x);
}

int main(void) {
  const int nisa = t_isa_count();
  /* known answer: F16C-independent scalar conversion */
  CHECK(llmem_quantize(LLMEM_Q8_0, NULL, NULL, 31) == -1, "partial block must be refused");
  CHECK(llmem_dequantize(LLMEM_Q4_0, NULL, NULL, 33) == -1, "partial block must be refused");
  CHECK(llmem_quantize(LLMEM_F16, NULL, NULL, 32) == -1, "f16 is not a block format");
  CHECK(llmem_quantize(99, NULL, NULL, 32) == -1, "unknown format");

  float *edge = malloc(QT_EDGE_KINDS * 32 * 4);
  for (int k = 0; k < QT_EDGE_KINDS; k++) qt_edge_block(k, edge + 32 * k);
  for (size_t f = 0; f < 4; f++) check_format(nisa, QT_FORMATS[f], edge, QT_EDGE_KINDS * 32, "edge");

  for (size_t s = 0; s < T_NSIZES; s++) {
    const size_t n = T_SIZES[s] / 32 * 32;
    float *x = malloc((n + 1) * 4);
    const float scale = s % 3 == 0 ? 1e-5f : s % 3 == 1 ? 1.0f : 3e4f;
    for (size_t i = 0; i < n; i++) x[i] = t_rand_f32(-scale, scale);
    for (size_t f = 0; f < 4; f++) check_format(nisa, QT_FORMATS[f], x, n, "random");
    if (T_SIZES[s] % 32) CHECK(llmem_quantize(LLMEM_Q8_0, x, NULL, T_SIZES[s]) == -1, "n=%zu refused", T_SIZES[s]);
    free(x);
  }
  check_half(nisa);
  check_ties(nisa);
  free(edge);
  return t_finish("quant");
}
