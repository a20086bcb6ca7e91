/* Quantized dot products (GGML's pairs) and f16·f32. The scalar references fix the order of
 * f32 operations the TS reference mirrors: per block an exact integer sum, then
 * sum += sumi * (dx * dy) (q_block_fold). SIMD paths keep the exact integer sums; the AVX2
 * ones reorder the f32 accumulation across blocks, the NEON Q8_0/Q4_0 ones keep the scalar order. */
#include "quant_internal.h"

LLMEM_SCALAR float dot_q8_0_q8_0_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q8_0_BYTES, y += Q8_0_BYTES) {
    int sumi = 0;
    for (int j = 0; j < 32; j++) sumi += (int8_t)x[2 + j] * (int8_t)y[2 + j];
    sum = q_block_fold(sum, sumi, scale_at(x), scale_at(y));
  }
  return sum;
}

LLMEM_SCALAR float dot_q4_0_q8_0_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q4_0_BYTES, y += Q8_0_BYTES) {
    int sumi = 0;
    for (int j = 0; j < 16; j++)
      sumi += ((x[2 + j] & 15) - 8) * (int8_t)y[2 + j] + ((x[2 + j] >> 4) - 8) * (int8_t)y[18 + j];
    sum = q_block_fold(sum, sumi, scale_at(x), scale_at(y));
  }
  return sum;
}

LLMEM_SCALAR float dot_q4_1_q8_1_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float sum = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q4_1_BYTES, y += Q8_1_BYTES) {
    int sumi = 0;
    for (int j = 0; j < 16; j++) sumi += (x[4 + j] & 15) * (int8_t)y[4 + j] + (x[4 + j] >> 4) * (int8_t)y[20 + j];
    /* Q8_1's s = d*sum(qs) lets the Q4_1 minimum in as m*s without revisiting the values. */
    const float scaled = (scale_at(x) * scale_at(y)) * (float)sumi;
    sum += scaled + scale_at(x + 2) * scale_at(y + 2);
  }
  return sum;
}

LLMEM_SCALAR float dot_f16_f32_scalar(const void *vx, const void *vy, size_t n) {
  const uint16_t *x = vx;
  const float *y = vy;
  float sum = 0.0f;
  for (size_t i = 0; i < n; i++) sum += fp16_to_fp32(x[i]) * y[i];
  return sum;
}

#if LLMEM_X86
/* 32 signed bytes · 32 signed bytes -> 8 int32 partial sums. maddubs needs one unsigned
 * operand, so |x| is paired with y carrying x's sign (exact unless a byte is -128, which no
 * quantizer writes). */
LLMEM_AVX2 static inline __m256i dot_i8_avx2(__m256i x, __m256i y) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* Q4_0's 16 bytes to 32 int8 in element order: low nibbles (0..15), then high (16..31), minus 8. */
LLMEM_AVX2 static inline __m256i unpack_q4_avx2(const uint8_t *qs) {
  const __m128i raw = _mm_loadu_si128((const __m128i *)qs);
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* dx·dy of two consecutive block pairs: the four fp16 scales gathered in a register and
 * converted by one VCVTPH2PS (half the vector work of converting them one by one). */
LLMEM_AVX2 static inline void scales2_avx2(const uint8_t *x0, const uint8_t *x1, const uint8_t *y0, const uint8_t *y1,
                                          __m256 *d0, __m256 *d1) {
  const uint64_t bits = (uint64_t)ld_u16(x0) | (uint64_t)ld_u16(y0) << 16 | (uint64_t)ld_u16(x1) << 32 |
                        (uint64_t)ld_u16(y1) << 48;
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)bits)); /* dx0 dy0 dx1 dy1 */
  const __m128 p = _mm_mul_ps(f, _mm_movehdup_ps(f));               /* dx0·dy0 _ dx1·dy1 _ */
  *d0 = _mm256_broadcastss_ps(p);
  *d1 = _mm256_broadcastss_ps(_mm_movehl_ps(p, p));
}

LLMEM_AVX2 float dot_q8_0_q8_0_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const size_t nb = n / 32;
  size_t b = 0;
  /* Two blocks per step on two accumulators: the FMA chain is the critical path. */
  for (; b + 2 <= nb; b += 2, x += 2 * Q8_0_BYTES, y += 2 * Q8_0_BYTES) {
    const __m256i s0 = dot_i8_avx2(_mm256_loadu_si256((const __m256i *)(x + 2)),
                                   _mm256_loadu_si256((const __m256i *)(y + 2)));
    const __m256i s1 = dot_i8_avx2(_mm256_loadu_si256((const __m256i *)(x + Q8_0_BYTES + 2)),
                                   _mm256_loadu_si256((const __m256i *)(y + Q8_0_BYTES + 2)));
    __m256 d0, d1;
    scales2_avx2(x, x + Q8_0_BYTES, y, y + Q8_0_BYTES, &d0, &d1);
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(s0), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(s1), acc1);
  }
  if (b < nb) {
    const __m256i s0 = dot_i8_avx2(_mm256_loadu_si256((const __m256i *)(x + 2)),
                                   _mm256_loadu_si256((const __m256i *)(y + 2)));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(x) * scale_at_avx2(y)), _mm256_cvtepi32_ps(s0), acc0);
  }
  return hsum_avx2(_mm256_add_ps(acc0, acc1));
}

/* Σ(q-8)·y of one block from the unsigned nibbles q: maddubs(q, y) - maddubs(8, y) per int16 pair
 * (each at most 2·15·127 and 2·8·127 in magnitude: exact), then one madd. The same exact int32
 * sums as dot_i8_avx2 of q-8 (so the same float result) in one instruction fewer per block than
 * its sign fix-ups. */
LLMEM_AVX2 static inline __m256i dot_q4_q8_avx2(const uint8_t *qs, const uint8_t *ys) {
  const __m256i yv = _mm256_loadu_si256((const __m256i *)ys);
  const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(unpack_q4_avx2(qs), yv),
                                     _mm256_maddubs_epi16(_mm256_set1_epi8(8), yv));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

LLMEM_AVX2 float dot_q4_0_q8_0_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const size_t nb = n / 32;
  size_t b = 0;
  for (; b + 2 <= nb; b += 2, x += 2 * Q4_0_BYTES, y += 2 * Q8_0_BYTES) {
    const __m256i s0 = dot_q4_q8_avx2(x + 2, y + 2);
    const __m256i s1 = dot_q4_q8_avx2(x + Q4_0_BYTES + 2, y + Q8_0_BYTES + 2);
    __m256 d0, d1;
    scales2_avx2(x, x + Q4_0_BYTES, y, y + Q8_0_BYTES, &d0, &d1);
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(s0), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(s1), acc1);
  }
  if (b < nb) {
    const __m256i s0 = dot_q4_q8_avx2(x + 2, y + 2);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(x) * scale_at_avx2(y)), _mm256_cvtepi32_ps(s0), acc0);
  }
  return hsum_avx2(_mm256_add_ps(acc0, acc1));
}

LLMEM_AVX2 float dot_q4_1_q8_1_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t b = 0; b < n / 32; b++, x += Q4_1_BYTES, y += Q8_1_BYTES) {
    /* Nibbles are unsigned, so they feed maddubs directly. */
    const __m256i p16 = _mm256_maddubs_epi16(unpack_q4_avx2(x + 4), _mm256_loadu_si256((const __m256i *)(y + 4)));
    const __m256i s = _mm256_madd_epi16(p16, ones);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(scale_at_avx2(x) * scale_at_avx2(y)), _mm256_cvtepi32_ps(s), acc);
    mins += scale_at_avx2(x + 2) * scale_at_avx2(y + 2);
  }
  return hsum_avx2(acc) + mins;
}

LLMEM_AVX2 float dot_f16_f32_avx2(const void *vx, const void *vy, size_t n) {
  const uint16_t *x = vx;
  const float *y = vy;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
#define F16_AT(k) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + (k))))
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(F16_AT(0), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(F16_AT(8), _mm256_loadu_ps(y + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(F16_AT(16), _mm256_loadu_ps(y + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(F16_AT(24), _mm256_loadu_ps(y + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(F16_AT(0), _mm256_loadu_ps(y + i), acc0);
#undef F16_AT
  float sum = hsum_avx2(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; i++) sum += _cvtsh_ss(x[i]) * y[i];
  return sum;
}
#endif

#if LLMEM_ARM
/* Q8_0 and Q4_0 fold each block's exact integer sum as the scalar references do
 * (q_row_dot_neon, quant_internal.h): bit for bit the scalar result, with or without SDOT, and
 * what the multi-row kernels of matmul_neon.c give per row. */
float dot_q8_0_q8_0_neon(const void *vx, const void *vy, size_t n) { return q_row_dot_neon(LLMEM_Q8_0, vx, vy, n); }

float dot_q4_0_q8_0_neon(const void *vx, const void *vy, size_t n) { return q_row_dot_neon(LLMEM_Q4_0, vx, vy, n); }

/* 16 int8 · 16 int8 -> 4 int32 partial sums (widening multiplies; no dotprod extension needed). */
static inline int32x4_t dot_i8x16_neon(int8x16_t a, int8x16_t b) {
  const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
  const int16x8_t hi = vmull_high_s8(a, b);
  return vaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi));
}

float dot_q4_1_q8_1_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float32x4_t acc = vdupq_n_f32(0);
  float mins = 0.0f;
  for (size_t b = 0; b < n / 32; b++, x += Q4_1_BYTES, y += Q8_1_BYTES) {
    const uint8x16_t raw = vld1q_u8(x + 4);
    const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15)));
    const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
    const int32x4_t s = vaddq_s32(dot_i8x16_neon(lo, vld1q_s8((const int8_t *)y + 4)),
                                  dot_i8x16_neon(hi, vld1q_s8((const int8_t *)y + 20)));
    acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), scale_at(x) * scale_at(y));
    mins += scale_at(x + 2) * scale_at(y + 2);
  }
  return vaddvq_f32(acc) + mins;
}

float dot_f16_f32_neon(const void *vx, const void *vy, size_t n) {
  const uint16_t *x = vx;
  const float *y = vy;
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = vfmaq_f32(acc0, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))), vld1q_f32(y + i));
    acc1 = vfmaq_f32(acc1, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i + 4))), vld1q_f32(y + i + 4));
  }
  float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; i++) sum += fp16_to_fp32(x[i]) * y[i];
  return sum;
}
#endif

