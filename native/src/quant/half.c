/* fp16 and bf16 array conversions: scalar reference, AVX2 (F16C), NEON; the format table (../formats.c) names them. */
#include "quant_internal.h"

LLMEM_SCALAR void f32_to_f16_scalar(const float *x, void *out, size_t n) {
  uint16_t *y = out;
  for (size_t i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}
LLMEM_SCALAR void f16_to_f32_scalar(const void *in, float *y, size_t n) {
  const uint16_t *x = in;
  for (size_t i = 0; i < n; i++) y[i] = fp16_to_fp32(x[i]);
}
LLMEM_SCALAR void f32_to_bf16_scalar(const float *x, void *out, size_t n) {
  uint16_t *y = out;
  for (size_t i = 0; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}
LLMEM_SCALAR void bf16_to_f32_scalar(const void *in, float *y, size_t n) {
  const uint16_t *x = in;
  for (size_t i = 0; i < n; i++) y[i] = bits_f32((uint32_t)x[i] << 16);
}

#if LLMEM_X86
LLMEM_AVX2 void f32_to_f16_avx2(const float *x, void *out, size_t n) {
  uint16_t *y = out;
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}
LLMEM_AVX2 void f16_to_f32_avx2(const void *in, float *y, size_t n) {
  const uint16_t *x = in;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
  for (; i < n; i++) y[i] = fp16_to_fp32(x[i]);
}
LLMEM_AVX2 void f32_to_bf16_avx2(const float *x, void *out, size_t n) {
  uint16_t *y = out;
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
  const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i r[2];
    for (int k = 0; k < 2; k++) {
      const __m256i u = _mm256_loadu_si256((const __m256i *)(x + i + 8 * k));
      const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
      const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
      const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias), lsb), 16);
      const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
      r[k] = _mm256_blendv_epi8(rounded, nan, is_nan);
    }
    /* packus works per 128-bit lane; the permute puts the 16 results back in order. */
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xD8);
    _mm256_storeu_si256((__m256i *)(y + i), packed);
  }
  for (; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}
LLMEM_AVX2 void bf16_to_f32_avx2(const void *in, float *y, size_t n) {
  const uint16_t *x = in;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
    _mm256_storeu_si256((__m256i *)(y + i), _mm256_slli_epi32(w, 16));
  }
  for (; i < n; i++) y[i] = bits_f32((uint32_t)x[i] << 16);
}
#endif

#if LLMEM_ARM
void f32_to_f16_neon(const float *x, void *out, size_t n) {
  uint16_t *y = out;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}
void f16_to_f32_neon(const void *in, float *y, size_t n) {
  const uint16_t *x = in;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))));
  for (; i < n; i++) y[i] = fp16_to_fp32(x[i]);
}
void f32_to_bf16_neon(const float *x, void *out, size_t n) {
  uint16_t *y = out;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32x4_t u = vld1q_u32((const uint32_t *)(x + i));
    const uint32x4_t is_nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
    const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7fff)), lsb), 16);
    const uint32x4_t nan = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x40));
    vst1_u16(y + i, vmovn_u32(vbslq_u32(is_nan, nan, rounded)));
  }
  for (; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}
void bf16_to_f32_neon(const void *in, float *y, size_t n) {
  const uint16_t *x = in;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_u32((uint32_t *)(y + i), vshll_n_u16(vld1_u16(x + i), 16));
  for (; i < n; i++) y[i] = bits_f32((uint32_t)x[i] << 16);
}
#endif

