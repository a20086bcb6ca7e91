/* Softmax of one head's scores: the scalar reference (expf) beside AVX2 and NEON paths that
 * evaluate exp with a degree-5 polynomial after range reduction (Cephes' expf: relative error
 * about 2e-7 on the (-88, 0] range softmax feeds it). */
#include <math.h>

#include "kv_rows.h"

float kv_softmax_scalar(float *s, size_t n) {
  float max = -INFINITY, sum = 0;
  for (size_t i = 0; i < n; i++) max = s[i] > max ? s[i] : max;
  for (size_t i = 0; i < n; i++) sum += s[i] = expf(s[i] - max);
  const float inv = 1.0f / sum;
  for (size_t i = 0; i < n; i++) s[i] *= inv;
  return max + logf(sum);
}

#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365478515625f /* below it exp underflows to 0 in the result anyway */
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f

#if LLMEM_X86
LLMEM_AVX2 static __m256 exp_avx2(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(EXP_HI)), _mm256_set1_ps(EXP_LO));
  const __m256 k = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_HI), x);
  x = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_LO), x);
  __m256 y = _mm256_set1_ps(P0);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P1));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P2));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P3));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P4));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P5));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

LLMEM_AVX2 float kv_softmax_avx2(float *s, size_t n) {
  size_t i = 0;
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(s + i));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  float max = _mm_cvtss_f32(m4);
  for (; i < n; i++) max = s[i] > max ? s[i] : max;
  const __m256 vm = _mm256_set1_ps(max);
  __m256 vsum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + i), vm));
    _mm256_storeu_ps(s + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(vsum), _mm256_extractf128_ps(vsum, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  float sum = _mm_cvtss_f32(s4);
  for (; i < n; i++) sum += s[i] = expf(s[i] - max);
  const __m256 inv = _mm256_set1_ps(1.0f / sum);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(s + i, _mm256_mul_ps(_mm256_loadu_ps(s + i), inv));
  for (; i < n; i++) s[i] *= 1.0f / sum;
  return max + logf(sum);
}
#endif

#if LLMEM_ARM
static float32x4_t exp_neon(float32x4_t x) {
  x = vmaxq_f32(vminq_f32(x, vdupq_n_f32(EXP_HI)), vdupq_n_f32(EXP_LO));
  const float32x4_t k = vrndmq_f32(vfmaq_n_f32(vdupq_n_f32(0.5f), x, LOG2E));
  x = vfmsq_n_f32(x, k, LN2_HI);
  x = vfmsq_n_f32(x, k, LN2_LO);
  float32x4_t y = vdupq_n_f32(P0);
  y = vfmaq_f32(vdupq_n_f32(P1), y, x);
  y = vfmaq_f32(vdupq_n_f32(P2), y, x);
  y = vfmaq_f32(vdupq_n_f32(P3), y, x);
  y = vfmaq_f32(vdupq_n_f32(P4), y, x);
  y = vfmaq_f32(vdupq_n_f32(P5), y, x);
  y = vfmaq_f32(vaddq_f32(x, vdupq_n_f32(1.0f)), y, vmulq_f32(x, x));
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
  return vmulq_f32(y, vreinterpretq_f32_s32(e));
}

float kv_softmax_neon(float *s, size_t n) {
  size_t i = 0;
  float32x4_t vmax = vdupq_n_f32(-INFINITY);
  for (; i + 4 <= n; i += 4) vmax = vmaxq_f32(vmax, vld1q_f32(s + i));
  float max = vmaxvq_f32(vmax);
  for (; i < n; i++) max = s[i] > max ? s[i] : max;
  const float32x4_t vm = vdupq_n_f32(max);
  float32x4_t vsum = vdupq_n_f32(0);
  for (i = 0; i + 4 <= n; i += 4) {
    const float32x4_t e = exp_neon(vsubq_f32(vld1q_f32(s + i), vm));
    vst1q_f32(s + i, e);
    vsum = vaddq_f32(vsum, e);
  }
  float sum = vaddvq_f32(vsum);
  for (; i < n; i++) sum += s[i] = expf(s[i] - max);
  const float inv = 1.0f / sum;
  for (i = 0; i + 4 <= n; i += 4) vst1q_f32(s + i, vmulq_n_f32(vld1q_f32(s + i), inv));
  for (; i < n; i++) s[i] *= inv;
  return max + logf(sum);
}
#endif
