/* Attention blocks over strided rows of every row format: every ISA against the scalar path,
 * and the scalar path against scores/sums computed from dequantized rows. */
#include "quant_test_util.h"

static void decode_row(int fmt, const uint8_t *row, float *out, size_t n) {
  if (fmt == LLMEM_F32) memcpy(out, row, n * 4);
  else if (fmt == LLMEM_F16 || fmt == LLMEM_BF16) {
    uint16_t *h = malloc(n * 2);
    memcpy(h, row, n * 2);
    if (fmt == LLMEM_F16) llmem_f16_to_f32(h, out, n);
    else llmem_bf16_to_f32(h, out, n);
    free(h);
  } else llmem_dequantize(fmt, row, out, n);
}

static size_t row_bytes(int fmt, size_t n) {
  return fmt == LLMEM_F32 ? n * 4 : fmt == LLMEM_F16 || fmt == LLMEM_BF16 ? n * 2 : n / 32 * QT_BLOCK_BYTES[fmt];
}

int main(void) {
  const int nisa = t_isa_count();
  const int formats[] = {LLMEM_F32, LLMEM_F16, LLMEM_BF16, LLMEM_Q8_0, LLMEM_Q4_0, LLMEM_Q4_1};
  const size_t dims[] = {1, 7, 32, 64, 100, 128, 256};
  const size_t tokens = 29, heads = 3, head = 2;
  for (int f = 0; f < (int)(sizeof formats / sizeof formats[0]); f++) {
    const int fmt = formats[f];
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
      const size_t n = dims[di];
      if (fmt >= LLMEM_Q8_0 && n % 32) {
        CHECK(llmem_attn_scores(fmt, NULL, NULL, 0, 0, 0, n, 1, NULL) == -1, "partial block head_dim refused");
        continue;
      }
      const size_t rb = row_bytes(fmt, n), stride = heads * rb;
      float *src = malloc(tokens * heads * n * 4), *q = malloc(n * 4), *w = malloc(tokens * 4);
      float *row = malloc(n * 4), *want = malloc(tokens * 4), *got = malloc(tokens * 4);
      float *sum_want = malloc(n * 4), *sum_got = malloc(n * 4);
      uint8_t *cache = malloc(tokens * stride + 1);
      for (size_t i = 0; i < tokens * heads * n; i++) src[i] = t_rand_f32(-1, 1);
      for (size_t i = 0; i < n; i++) q[i] = t_rand_f32(-1, 1);
      for (size_t t = 0; t < tokens; t++) w[t] = t_rand_f32(0, 1);
      llmem_set_isa(LLMEM_ISA_SCALAR);
      for (size_t r = 0; r < tokens * heads; r++) {
        uint8_t *dst = cache + r * rb;
        if (fmt == LLMEM_F32) memcpy(dst, src + r * n, n * 4);
        else if (fmt == LLMEM_F16) llmem_f32_to_f16(src + r * n, (uint16_t *)(void *)dst, n);
        else if (fmt == LLMEM_BF16) llmem_f32_to_bf16(src + r * n, (uint16_t *)(void *)dst, n);
        else llmem_quantize(fmt, src + r * n, dst, n);
      }
      CHECK(llmem_attn_scores(fmt, q, cache, head * rb, stride, tokens, n, 0.5f, want) == 0, "scores");
      for (size_t i = 0; i < n; i++) sum_want[i] = 1.0f;
      CHECK(llmem_attn_weighted_sum(fmt, w, cache, head * rb, stride, tokens, n, sum_want) == 0, "sum");
      /* scalar path vs the dequantized rows in f64 */
      double worst = 0;
      double *acc = calloc(n, sizeof(double));
      for (size_t t = 0; t < tokens; t++) {
        decode_row(fmt, cache + head * rb + t * stride, row, n);
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)q[i] * row[i], acc[i] += (double)w[t] * row[i];
        worst = fmax(worst, fabs(0.5 * s - want[t]));
      }
      for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(1.0 + acc[i] - sum_want[i]));
      CHECK(worst <= 1e-4 * (double)(n + tokens), "%s n=%zu: scalar vs dequantized error %g", QT_NAMES[fmt], n, worst);
      free(acc);
      for (int k = 1; k < nisa; k++) {
        llmem_set_isa(t_isas[k]);
        llmem_attn_scores(fmt, q, cache, head * rb, stride, tokens, n, 0.5f, got);
        for (size_t i = 0; i < n; i++) sum_got[i] = 1.0f;
        llmem_attn_weighted_sum(fmt, w, cache, head * rb, stride, tokens, n, sum_got);
        double e = 0;
        for (size_t t = 0; t < tokens; t++) e = fmax(e, fabs((double)got[t] - want[t]));
        for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)sum_got[i] - sum_want[i]));
        CHECK(e <= 1e-5 * (double)(n + tokens), "%s %s n=%zu: SIMD vs scalar error %g", llmem_isa_name(t_isas[k]),
              QT_NAMES[fmt], n, e);
      }
      free(src), free(q), free(w), free(row), free(want), free(got), free(sum_want), free(sum_got), free(cache);
    }
  }
  CHECK(llmem_attn_weighted_sum(LLMEM_Q8_1, NULL, NULL, 0, 0, 0, 32, NULL) == -1, "q8_1 is not a row format");
  return t_finish("attn");
}
