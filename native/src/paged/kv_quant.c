/* Error-minimising q4_0/q4_1 encoders for KV stores. Round-to-nearest from a block's extremes
 * (GGML's reference) spends levels on one outlier; trying scales around it and refitting scale
 * (and minimum) by least squares, as llama.cpp's k-quant search does, lowers every block's
 * squared error. Output is ordinary GGML blocks. Per candidate, computing the levels and their
 * sums and the error of the fit are the vector kernels (scalar reference, AVX2, NEON); the
 * search around them is shared. */
#include "../quant/quant_internal.h"
#include "../formats.h"
#include "kv_rows.h"

#define KV_STEPS 4 /* candidates i = -STEPS..STEPS, scale step 0.1 level */

struct kv_q4_ops {
  /* lv[j] = clamp(floor(x[j]*a + b + 0.5), lo, hi); returns s1 = Σlv, s2 = Σlv², sx = Σlv·x */
  void (*levels)(const float *x, float a, float b, float lo, float hi, float *lv, float *s);
  /* Σ (x[j] - (lv[j]*d + m))² */
  float (*error)(const float *x, const float *lv, float d, float m);
};
typedef struct kv_q4_ops kv_q4_ops;

static void levels_scalar(const float *x, float a, float b, float lo, float hi, float *lv, float *s) {
  float s1 = 0, s2 = 0, sx = 0;
  for (int j = 0; j < 32; j++) {
    float l = floorf(x[j] * a + b + 0.5f);
    l = l < lo ? lo : l > hi ? hi : l;
    lv[j] = l;
    s1 += l;
    s2 += l * l;
    sx += l * x[j];
  }
  s[0] = s1, s[1] = s2, s[2] = sx;
}

static float error_scalar(const float *x, const float *lv, float d, float m) {
  float e = 0;
  for (int j = 0; j < 32; j++) {
    const float r = x[j] - (lv[j] * d + m);
    e += r * r;
  }
  return e;
}

const kv_q4_ops kv_q4_ops_scalar = {levels_scalar, error_scalar};

#if LLMEM_X86
LLMEM_AVX2 static void levels_avx2(const float *x, float a, float b, float lo, float hi, float *lv, float *s) {
  const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b + 0.5f);
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  __m256 s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), sx = _mm256_setzero_ps();
  for (int k = 0; k < 32; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    __m256 l = _mm256_floor_ps(_mm256_fmadd_ps(xv, va, vb));
    l = _mm256_min_ps(_mm256_max_ps(l, vlo), vhi);
    _mm256_storeu_ps(lv + k, l);
    s1 = _mm256_add_ps(s1, l);
    s2 = _mm256_fmadd_ps(l, l, s2);
    sx = _mm256_fmadd_ps(l, xv, sx);
  }
  s[0] = hsum_avx2(s1), s[1] = hsum_avx2(s2), s[2] = hsum_avx2(sx);
}

LLMEM_AVX2 static float error_avx2(const float *x, const float *lv, float d, float m) {
  const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
  __m256 e = _mm256_setzero_ps();
  for (int k = 0; k < 32; k += 8) {
    const __m256 r = _mm256_sub_ps(_mm256_loadu_ps(x + k), _mm256_fmadd_ps(_mm256_loadu_ps(lv + k), vd, vm));
    e = _mm256_fmadd_ps(r, r, e);
  }
  return hsum_avx2(e);
}

const kv_q4_ops kv_q4_ops_avx2 = {levels_avx2, error_avx2};
#endif

#if LLMEM_ARM
static void levels_neon(const float *x, float a, float b, float lo, float hi, float *lv, float *s) {
  const float32x4_t vb = vdupq_n_f32(b + 0.5f), vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
  float32x4_t s1 = vdupq_n_f32(0), s2 = vdupq_n_f32(0), sx = vdupq_n_f32(0);
  for (int k = 0; k < 32; k += 4) {
    const float32x4_t xv = vld1q_f32(x + k);
    float32x4_t l = vrndmq_f32(vfmaq_n_f32(vb, xv, a));
    l = vminq_f32(vmaxq_f32(l, vlo), vhi);
    vst1q_f32(lv + k, l);
    s1 = vaddq_f32(s1, l);
    s2 = vfmaq_f32(s2, l, l);
    sx = vfmaq_f32(sx, l, xv);
  }
  s[0] = vaddvq_f32(s1), s[1] = vaddvq_f32(s2), s[2] = vaddvq_f32(sx);
}

static float error_neon(const float *x, const float *lv, float d, float m) {
  const float32x4_t vm = vdupq_n_f32(m);
  float32x4_t e = vdupq_n_f32(0);
  for (int k = 0; k < 32; k += 4) {
    const float32x4_t r = vsubq_f32(vld1q_f32(x + k), vfmaq_n_f32(vm, vld1q_f32(lv + k), d));
    e = vfmaq_f32(e, r, r);
  }
  return vaddvq_f32(e);
}

const kv_q4_ops kv_q4_ops_neon = {levels_neon, error_neon};
#endif

/* fp32_to_fp16 / fp16_to_fp32 (round to nearest even) are quant-kernels' scalar converters. */
static inline float f16_round(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

static void put_nibbles(uint8_t *q, const float *lv) {
  for (int j = 0; j < 16; j++) q[j] = (uint8_t)((int)lv[j] | ((int)lv[j + 16] << 4));
}

static void block_q4_1(const kv_q4_ops *ops, const float *x, uint8_t *y) {
  float min = x[0], max = x[0], lv[32], best[32], s[3], sum = 0;
  for (int j = 0; j < 32; j++) {
    min = x[j] < min ? x[j] : min;
    max = x[j] > max ? x[j] : max;
    sum += x[j];
  }
  float best_err = FLT_MAX, best_d = 0, best_m = min;
  memset(best, 0, sizeof best);
  const float range = max - min;
  for (int i = -KV_STEPS; i <= KV_STEPS && range > 0; i++) {
    const float a = (15.0f + 0.1f * (float)i) / range;
    ops->levels(x, a, -min * a, 0.0f, 15.0f, lv, s);
    const float det = 32.0f * s[1] - s[0] * s[0];
    if (det <= 0) continue;
    const float d = f16_round((32.0f * s[2] - s[0] * sum) / det);
    const float m = f16_round((sum * s[1] - s[0] * s[2]) / det);
    const float err = ops->error(x, lv, d, m);
    if (err < best_err) {
      best_err = err, best_d = d, best_m = m;
      memcpy(best, lv, sizeof best);
    }
  }
  st_u16(y, fp32_to_fp16(best_d));
  st_u16(y + 2, fp32_to_fp16(best_m));
  put_nibbles(y + 4, best);
}

static void block_q4_0(const kv_q4_ops *ops, const float *x, uint8_t *y) {
  float amax = 0, max = 0, lv[32], best[32], s[3], sum = 0;
  for (int j = 0; j < 32; j++) {
    if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    sum += x[j];
  }
  float best_err = FLT_MAX, best_d = 0;
  for (int j = 0; j < 32; j++) best[j] = 8.0f;
  /* The extreme value may land on level -8 (GGML's choice) or on +7: scales around both. */
  for (int fam = 0; fam < 2 && amax > 0; fam++) {
    for (int i = -KV_STEPS; i <= KV_STEPS; i++) {
      const float a = ((fam ? 7.0f : -8.0f) + 0.1f * (float)i) / max;
      /* levels l = clamp(round(x*a) + 8); fit x ≈ (l - 8)·d by least squares */
      ops->levels(x, a, 8.0f, 0.0f, 15.0f, lv, s);
      const float scc = s[1] - 16.0f * s[0] + 64.0f * 32.0f; /* Σ(l-8)² */
      const float scx = s[2] - 8.0f * sum; /* Σ(l-8)·x */
      if (scc <= 0) continue;
      const float d = f16_round(scx / scc);
      const float err = ops->error(x, lv, d, -8.0f * d);
      if (err < best_err) {
        best_err = err, best_d = d;
        memcpy(best, lv, sizeof best);
      }
    }
  }
  st_u16(y, fp32_to_fp16(best_d));
  put_nibbles(y + 2, best);
}

int llmem_kv_quantize_refined(int format, const float *src, void *dst, size_t n) {
  if (n % 32 != 0 || (format != LLMEM_Q4_0 && format != LLMEM_Q4_1)) return -1;
  const kv_q4_ops *ops = llmem_isa_kernels_active.kv_q4;
  uint8_t *y = dst;
  for (size_t b = 0; b < n / 32; b++) {
    if (format == LLMEM_Q4_1) block_q4_1(ops, src + 32 * b, y + 20 * b);
    else block_q4_0(ops, src + 32 * b, y + 18 * b);
  }
  return 0;
}
