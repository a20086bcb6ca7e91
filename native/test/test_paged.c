/* llmem_paged_attention: every ISA path against an independent double-precision reference,
 * over every KV format, scattered block tables, partial last blocks and GQA groups. */
#include "harness.h"

static float ref_f16(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
  return (float)((h & 0x8000) ? -v : v);
}
static float ref_bf16(uint16_t h) {
  uint32_t b = (uint32_t)h << 16;
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* Independent decode of value i of a row. */
static double ref_value(int fmt, const uint8_t *row, size_t i) {
  const size_t b = i / 32, j = i % 32;
  switch (fmt) {
  case LLMEM_F32: {
    float f;
    memcpy(&f, row + 4 * i, 4);
    return f;
  }
  case LLMEM_F16: return ref_f16((uint16_t)(row[2 * i] | row[2 * i + 1] << 8));
  case LLMEM_BF16: return ref_bf16((uint16_t)(row[2 * i] | row[2 * i + 1] << 8));
  case LLMEM_Q8_0: {
    const uint8_t *p = row + b * 34;
    return ref_f16((uint16_t)(p[0] | p[1] << 8)) * (double)(int8_t)p[2 + j];
  }
  case LLMEM_Q4_0: {
    const uint8_t *p = row + b * 18;
    const int q = j < 16 ? (p[2 + j] & 15) : (p[2 + j - 16] >> 4);
    return ref_f16((uint16_t)(p[0] | p[1] << 8)) * (q - 8);
  }
  default: {
    const uint8_t *p = row + b * 20;
    const int q = j < 16 ? (p[4 + j] & 15) : (p[4 + j - 16] >> 4);
    return ref_f16((uint16_t)(p[0] | p[1] << 8)) * q + ref_f16((uint16_t)(p[2] | p[3] << 8));
  }
  }
}

/* Random but finite rows: small f16/bf16 exponents, sane block scales. */
static void fill_row(int fmt, uint8_t *row, size_t head_dim) {
  const size_t bytes = llmem_kv_row_bytes(fmt, head_dim);
  for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)t_rand_u32();
  if (fmt == LLMEM_F32) {
    for (size_t i = 0; i < head_dim; i++) {
      float f = t_rand_f32(-2, 2);
      memcpy(row + 4 * i, &f, 4);
    }
  } else if (fmt == LLMEM_F16 || fmt == LLMEM_BF16) {
    for (size_t i = 0; i < head_dim; i++) {
      uint16_t h = fmt == LLMEM_F16 ? (uint16_t)((t_rand_u32() & 0x83ff) | ((12 + t_rand_u32() % 5) << 10))
                                       : (uint16_t)((t_rand_u32() & 0x807f) | ((124 + t_rand_u32() % 5) << 7));
      row[2 * i] = (uint8_t)h;
      row[2 * i + 1] = (uint8_t)(h >> 8);
    }
  } else {
    const size_t stride = fmt == LLMEM_Q8_0 ? 34 : fmt == LLMEM_Q4_0 ? 18 : 20;
    for (size_t b = 0; b < head_dim / 32; b++) {
      const uint16_t d = (uint16_t)((t_rand_u32() & 0x3ff) | ((8 + t_rand_u32() % 4) << 10));
      row[b * stride] = (uint8_t)d;
      row[b * stride + 1] = (uint8_t)(d >> 8);
      if (fmt == LLMEM_Q4_1) {
        const uint16_t m = (uint16_t)((t_rand_u32() & 0x83ff) | (13u << 10));
        row[b * stride + 2] = (uint8_t)m;
        row[b * stride + 3] = (uint8_t)(m >> 8);
      }
    }
  }
}

static void reference(int fmt, const float *q, size_t nh, size_t nkv, size_t hd, const uint8_t *kp, const uint8_t *vp,
                      const uint32_t *table, size_t bs, size_t nt, float scale, double *out, double *lse) {
  const size_t rb = llmem_kv_row_bytes(fmt, hd), tb = nkv * rb, group = nh / nkv;
  double *s = malloc((nt + 1) * sizeof(double));
  for (size_t h = 0; h < nh; h++) {
    const size_t g = h / group;
    double max = -INFINITY, sum = 0;
    for (size_t t = 0; t < nt; t++) {
      const uint8_t *k = kp + ((size_t)table[t / bs] * bs + t % bs) * tb + g * rb;
      double dot = 0;
      for (size_t d = 0; d < hd; d++) dot += (double)q[h * hd + d] * ref_value(fmt, k, d);
      s[t] = dot * scale;
      if (s[t] > max) max = s[t];
    }
    for (size_t t = 0; t < nt; t++) sum += s[t] = exp(s[t] - max);
    for (size_t d = 0; d < hd; d++) out[h * hd + d] = 0;
    for (size_t t = 0; t < nt; t++) {
      const uint8_t *v = vp + ((size_t)table[t / bs] * bs + t % bs) * tb + g * rb;
      for (size_t d = 0; d < hd; d++) out[h * hd + d] += s[t] / sum * ref_value(fmt, v, d);
    }
    lse[h] = nt ? max + log(sum) : -INFINITY;
  }
  free(s);
}

static void run_case_scaled(int fmt, size_t nh, size_t nkv, size_t hd, size_t bs, size_t nt, float sharpness) {
  const size_t rb = llmem_kv_row_bytes(fmt, hd);
  const size_t nblocks = (nt + bs - 1) / bs, pool_blocks = nblocks + 3;
  const size_t pool_bytes = pool_blocks * bs * nkv * rb;
  uint8_t *kp = malloc(pool_bytes + 1), *vp = malloc(pool_bytes + 1);
  for (size_t i = 0; i < pool_blocks * bs * nkv; i++) {
    fill_row(fmt, kp + i * rb, hd);
    fill_row(fmt, vp + i * rb, hd);
  }
  /* A scattered table: logical block i -> a shuffled physical block. */
  uint32_t *perm = malloc(pool_blocks * sizeof(uint32_t));
  for (size_t i = 0; i < pool_blocks; i++) perm[i] = (uint32_t)i;
  for (size_t i = pool_blocks; i > 1; i--) {
    const size_t j = t_rand_u32() % i;
    const uint32_t tmp = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = tmp;
  }
  float *q = malloc(nh * hd * sizeof(float));
  for (size_t i = 0; i < nh * hd; i++) q[i] = t_rand_f32(-1, 1);
  const float scale = sharpness / sqrtf((float)hd);
  double *want = malloc(nh * hd * sizeof(double)), *want_lse = malloc(nh * sizeof(double));
  reference(fmt, q, nh, nkv, hd, kp, vp, perm, bs, nt, scale, want, want_lse);
  float *scratch = malloc((nt * nh + 32 * hd) * sizeof(float));
  float *out = malloc(nh * hd * sizeof(float)), *lse = malloc(nh * sizeof(float));
  for (int i = 0; i < t_isa_count(); i++) {
    llmem_set_isa(t_isas[i]);
    llmem_paged_attention(fmt, q, nh, nkv, hd, kp, vp, perm, bs, nt, scale, scratch, out, lse);
    double err = 0, lse_err = 0;
    for (size_t j = 0; j < nh * hd; j++) err = fmax(err, fabs(out[j] - want[j]));
    for (size_t h = 0; h < nh; h++)
      lse_err = nt ? fmax(lse_err, fabs(lse[h] - want_lse[h]) / fmax(1.0, fabs(want_lse[h]))) : (isinf(lse[h]) && lse[h] < 0 ? 0 : 1);
    CHECK(err < 1e-4 && lse_err < 1e-4, "fmt %d isa %s nh %zu nkv %zu hd %zu bs %zu nt %zu: out err %g lse err %g", fmt,
          llmem_isa_name(t_isas[i]), nh, nkv, hd, bs, nt, err, lse_err);
  }
  llmem_set_isa(llmem_detect_isa());
  /* With threads, a call with enough work splits its KV heads over the pool: the same bits as
   * one thread (every head's arithmetic is the same on any thread). */
  float *out1 = malloc(nh * hd * sizeof(float)), *lse1 = malloc(nh * sizeof(float));
  llmem_set_threads(1);
  llmem_paged_attention(fmt, q, nh, nkv, hd, kp, vp, perm, bs, nt, scale, scratch, out1, lse1);
  for (int threads = 2; threads <= 3; threads++) {
    llmem_set_threads(threads);
    for (size_t j = 0; j < nh * hd; j++) out[j] = NAN;
    llmem_paged_attention(fmt, q, nh, nkv, hd, kp, vp, perm, bs, nt, scale, scratch, out, lse);
    CHECK(memcmp(out, out1, nh * hd * sizeof(float)) == 0 && memcmp(lse, lse1, nh * sizeof(float)) == 0,
          "fmt %d nh %zu nkv %zu hd %zu nt %zu: %d threads give the bits of one", fmt, nh, nkv, hd, nt, threads);
  }
  llmem_set_threads(1);
  free(out1), free(lse1);
  free(kp), free(vp), free(perm), free(q), free(want), free(want_lse), free(scratch), free(out), free(lse);
}

static void run_case(int fmt, size_t nh, size_t nkv, size_t hd, size_t bs, size_t nt) {
  run_case_scaled(fmt, nh, nkv, hd, bs, nt, 1.0f);
}

int main(void) {
  /* Sharp softmax: most exps underflow, one token dominates; exercises the vector exp's range. */
  for (int fmt = LLMEM_F32; fmt <= LLMEM_Q8_0; fmt += 3) {
    run_case_scaled(fmt, 4, 2, 64, 16, 100, 60.0f);
    run_case_scaled(fmt, 4, 2, 64, 16, 37, 0.01f);
  }
  static const size_t tokens[] = {0, 1, 15, 16, 17, 100};
  for (int fmt = LLMEM_F32; fmt <= LLMEM_Q4_1; fmt++) {
    static const size_t dims[] = {32, 64, 128, 8, 40, 3};
    for (size_t di = 0; di < 6; di++) {
      const size_t hd = dims[di];
      if (llmem_kv_row_bytes(fmt, hd) == 0) continue;
      for (size_t ti = 0; ti < 6; ti++) {
        run_case(fmt, 4, 2, hd, 16, tokens[ti]);
        run_case(fmt, 3, 3, hd, 1, tokens[ti]);
        run_case(fmt, 8, 1, hd, 7, tokens[ti]);
        run_case(fmt, 10, 2, hd, 5, tokens[ti]); /* groups of 5: four heads at once plus one */
        run_case(fmt, 4, 2, hd, 50, tokens[ti]);  /* blocks longer than one 32-row value tile */
      }
    }
  }
  CHECK(llmem_kv_row_bytes(LLMEM_Q8_0, 40) == 0, "block formats need head_dim %% 32 == 0");
  CHECK(llmem_kv_row_bytes(99, 32) == 0, "unknown format");
  CHECK(llmem_kv_row_bytes(LLMEM_Q4_1, 128) == 80, "q4_1 row bytes");
  return t_finish("paged_attention");
}
