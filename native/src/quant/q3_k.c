/* Q3_K: 256 values in 16 sub-blocks of 16, each with a signed 6-bit scale under the block's fp16
 * d; 3-bit levels -4..3 as 2 low bits (qs) and a high-bit plane (hmask) (layout in k_quants.h).
 * Dots pair it with Q8_K. Scalar reference (quantize byte for byte GGML's quantize_row_q3_K_ref),
 * AVX2 and NEON dequantize and dot.
 *
 * The dot reproduces ggml's scalar ggml_vec_dot_q3_K_q8_K bit for bit on every path: per block
 * eight exact int32 lane sums (lane l: the values v with v % 8 == l, each level·x times its
 * sub-block's scale), then, in f32, lane_sum[l] += d·lane[l] across blocks and the eight lane
 * sums added in order at the end. The integer parts are exact on any ISA, the f32 steps the same
 * operations in the same order. */
#include "k_quants.h"

/* The signed 6-bit scale (-32..31) of sub-block j: 4 low bits from byte j (j < 8, low nibble) or
 * j - 8 (high nibble), 2 high bits from byte 8 + j % 4 at bits 2·(j / 4). */
static inline int q3_k_scale(const uint8_t *s, int j) {
  const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

static inline void q3_k_scales(const uint8_t *x, int8_t sc[16]) {
  for (int j = 0; j < 16; j++) sc[j] = (int8_t)q3_k_scale(x + Q3_K_SCALES, j);
}

/* The level (-4..3) of value v: 2 bits of qs byte 32·(v/128) + v%32 at 2·((v%128)/32), minus 4
 * unless bit v/32 of hmask byte v%32 is set. */
static inline int q3_k_level(const uint8_t *x, int v) {
  const int lo = (x[Q3_K_QS + 32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
  return lo - ((x[v % 32] >> (v / 32)) & 1 ? 0 : 4);
}

/* GGML's make_q3_quants(16, 4, x, L, do_rmse = true): start from the value of largest magnitude,
 * then up to 5 passes moving single levels while the weighted (x²) fit improves. Every f32
 * operation in GGML's order. L gets levels 0..7; returns the scale. */
LLMEM_SCALAR static float q3_k_fit(const float *x, int8_t *L) {
  const int n = 16, nmax = 4;
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    const float ax = fabsf(x[i]);
    if (ax > amax) amax = ax, max = x[i];
  }
  if (amax < 1e-15f) { /* GGML's GROUP_MAX_EPS */
    memset(L, 0, (size_t)n);
    return 0.0f;
  }
  const float iscale = (float)-nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = k_nearest_int(iscale * x[i]);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[i] = (int8_t)l;
    const float w = x[i] * x[i], wx = w * x[i], wl = w * (float)l;
    const float a = wx * (float)l, b = wl * (float)l;
    sumlx += a;
    suml2 += b;
  }
  for (int itry = 0; itry < 5; itry++) {
    int changed = 0;
    for (int i = 0; i < n; i++) {
      const float w = x[i] * x[i], wx = w * x[i];
      const float a = wx * (float)L[i];
      float slx = sumlx - a;
      if (slx > 0) {
        const float wl = w * (float)L[i], b = wl * (float)L[i];
        float sl2 = suml2 - b;
        const float t = x[i] * sl2;
        int nl = k_nearest_int(t / slx);
        nl = nl < -nmax ? -nmax : nl > nmax - 1 ? nmax - 1 : nl;
        if (nl != L[i]) {
          const float wn = w * (float)nl, a2 = wx * (float)nl, b2 = wn * (float)nl;
          slx += a2;
          sl2 += b2;
          const float ss = slx * slx, lhs = ss * suml2, tt = sumlx * sumlx, rhs = tt * sl2;
          if (sl2 > 0 && lhs > rhs) {
            L[i] = (int8_t)nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
  return sumlx / suml2;
}

LLMEM_SCALAR void quantize_q3_k_scalar(const float *x, void *out, size_t n) {
  uint8_t *y = out;
  for (size_t b = 0; b < n / QK_K; b++, x += QK_K, y += Q3_K_BYTES) {
    int8_t L[QK_K];
    float scales[16], max_scale = 0, amax = 0;
    for (int j = 0; j < 16; j++) {
      scales[j] = q3_k_fit(x + 16 * j, L + 16 * j);
      const float a = fabsf(scales[j]);
      if (a > amax) amax = a, max_scale = scales[j];
    }
    memset(y, 0, Q3_K_BYTES);
    uint8_t *s = y + Q3_K_SCALES;
    uint16_t dh = 0;
    if (max_scale != 0.0f) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; j++) {
        /* GGML keeps nearest_int in an int8_t; |iscale·scale| <= 32 here, so nothing wraps. */
        int l = (int8_t)k_nearest_int(iscale * scales[j]);
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        if (j < 8) s[j] = (uint8_t)(l & 0xF);
        else s[j - 8] |= (uint8_t)((l & 0xF) << 4);
        s[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
      }
      dh = fp32_to_fp16(1 / iscale);
    }
    st_u16(y + Q3_K_D, dh);
    /* Re-derive the levels against the scales as stored (a sub-block whose scale is stored as 0
     * keeps the fit's levels, as GGML's does). */
    for (int j = 0; j < 16; j++) {
      const float d = fp16_to_fp32(dh) * (float)q3_k_scale(s, j);
      if (d == 0.0f) continue;
      for (int i = 0; i < 16; i++) {
        int l = k_nearest_int(x[16 * j + i] / d);
        l = l < -4 ? -4 : l > 3 ? 3 : l;
        L[16 * j + i] = (int8_t)(l + 4);
      }
    }
    for (int v = 0; v < QK_K; v++)
      if (L[v] > 3) {
        y[v % 32] |= (uint8_t)(1 << (v / 32));
        L[v] = (int8_t)(L[v] - 4);
      }
    uint8_t *q = y + Q3_K_QS;
    for (int h = 0; h < 2; h++)
      for (int l = 0; l < 32; l++) {
        const int8_t *Lh = L + 128 * h;
        q[32 * h + l] = (uint8_t)(Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6));
      }
  }
}

LLMEM_SCALAR void dequantize_q3_k_scalar(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q3_K_BYTES, y += QK_K) {
    const float d = scale_at(x + Q3_K_D);
    int8_t sc[16];
    q3_k_scales(x, sc);
    for (int v = 0; v < QK_K; v++) {
      const float dl = d * (float)sc[v / 16];
      y[v] = dl * (float)q3_k_level(x, v);
    }
  }
}

/* ggml's scalar order: lane[l] += d·lane_int[l] per block (f32), the 8 lanes added at the end. */
static inline float q3_k_lanes_total(const float lane[8]) {
  float s = 0.0f;
  for (int l = 0; l < 8; l++) s += lane[l];
  return s;
}

LLMEM_SCALAR float dot_q3_k_q8_k_scalar(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float lane[8] = {0};
  for (size_t b = 0; b < n / QK_K; b++, x += Q3_K_BYTES, y += Q8_K_BYTES) {
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int8_t sc[16];
    q3_k_scales(x, sc);
    int32_t li[8] = {0};
    for (int v = 0; v < QK_K; v++) li[v % 8] += sc[v / 16] * (q3_k_level(x, v) * a[v]);
    const float d = scale_at(x + Q3_K_D) * ld_f32(y);
    for (int l = 0; l < 8; l++) {
      const float t = d * (float)li[l];
      lane[l] += t;
    }
  }
  return q3_k_lanes_total(lane);
}

#if LLMEM_X86
/* Slice j (values 128h + 32j .. +31) of a block's levels, int8 -4..3: 2 bits of qs, minus 4
 * where the hmask bit 4h + j is clear. */
LLMEM_AVX2 static inline __m256i q3_k_slice_avx2(__m256i q, __m256i hm, int h, int j) {
  const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * j)), _mm256_set1_epi8(3));
  const __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + j)));
  const __m256i clear = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), _mm256_setzero_si256()); /* 0xFF: minus 4 */
  return _mm256_sub_epi8(lo, _mm256_and_si256(clear, _mm256_set1_epi8(4)));
}

LLMEM_AVX2 void dequantize_q3_k_avx2(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q3_K_BYTES, y += QK_K) {
    const float d = scale_at_avx2(x + Q3_K_D);
    int8_t sc[16];
    q3_k_scales(x, sc);
    const __m256i hm = _mm256_loadu_si256((const __m256i *)x);
    for (int h = 0; h < 2; h++) {
      const __m256i q = _mm256_loadu_si256((const __m256i *)(x + Q3_K_QS + 32 * h));
      for (int j = 0; j < 4; j++) {
        int8_t lv[32];
        _mm256_storeu_si256((__m256i *)lv, q3_k_slice_avx2(q, hm, h, j));
        for (int t = 0; t < 4; t++) {
          const int v = 128 * h + 32 * j + 8 * t;
          const __m256 dl = _mm256_set1_ps(d * (float)sc[v / 16]);
          const __m256i l = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(lv + 8 * t)));
          _mm256_storeu_ps(y + v, _mm256_mul_ps(dl, _mm256_cvtepi32_ps(l)));
        }
      }
    }
  }
}

/* The eight lanes of ggml's scalar dot in one vector: level·x as int16 (|.| <= 512), times the
 * sub-block scale (|.| <= 16384, still int16), then values v..v+7 and v+8..v+15 of each
 * sub-block widened to int32 and added into lanes v % 8. The f32 lane update is one mul and one
 * add per lane, as ggml's. */
LLMEM_AVX2 float dot_q3_k_q8_k_avx2(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  __m256 lane = _mm256_setzero_ps();
  for (size_t b = 0; b < n / QK_K; b++, x += Q3_K_BYTES, y += Q8_K_BYTES) {
    const uint8_t *a = y + Q8_K_QS;
    int8_t sc[16];
    q3_k_scales(x, sc);
    const __m256i hm = _mm256_loadu_si256((const __m256i *)x);
    __m256i li = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      const __m256i q = _mm256_loadu_si256((const __m256i *)(x + Q3_K_QS + 32 * h));
      for (int j = 0; j < 4; j++) {
        const __m256i lv = q3_k_slice_avx2(q, hm, h, j);
        const __m256i av = _mm256_loadu_si256((const __m256i *)(a + 128 * h + 32 * j));
        for (int p = 0; p < 2; p++) { /* sub-block 8h + 2j + p: 16 values */
          const __m128i l8 = p ? _mm256_extracti128_si256(lv, 1) : _mm256_castsi256_si128(lv);
          const __m128i a8 = p ? _mm256_extracti128_si256(av, 1) : _mm256_castsi256_si128(av);
          __m256i pr = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(l8), _mm256_cvtepi8_epi16(a8));
          pr = _mm256_mullo_epi16(pr, _mm256_set1_epi16(sc[8 * h + 2 * j + p]));
          li = _mm256_add_epi32(li, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(pr)));
          li = _mm256_add_epi32(li, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(pr, 1)));
        }
      }
    }
    const __m256 d = _mm256_set1_ps(scale_at_avx2(x + Q3_K_D) * ld_f32(y));
    lane = _mm256_add_ps(lane, _mm256_mul_ps(d, _mm256_cvtepi32_ps(li)));
  }
  float l8[8];
  _mm256_storeu_ps(l8, lane);
  return q3_k_lanes_total(l8);
}
#endif

#if LLMEM_ARM
/* Bytes 16p..16p+15 of slice j of half h (sub-block 8h + 2j + p), int8 levels -4..3. */
static inline int8x16_t q3_k_slice_neon(const uint8_t *x, int h, int j, int p) {
  const uint8x16_t q = vld1q_u8(x + Q3_K_QS + 32 * h + 16 * p), hm = vld1q_u8(x + 16 * p);
  const uint8x16_t lo = vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3));
  const uint8x16_t set = vtstq_u8(hm, vdupq_n_u8((uint8_t)(1 << (4 * h + j)))); /* 0xFF: no minus 4 */
  return vreinterpretq_s8_u8(vsubq_u8(lo, vbicq_u8(vdupq_n_u8(4), set)));
}

void dequantize_q3_k_neon(const void *in, float *y, size_t n) {
  const uint8_t *x = in;
  for (size_t b = 0; b < n / QK_K; b++, x += Q3_K_BYTES, y += QK_K) {
    const float d = scale_at(x + Q3_K_D);
    int8_t sc[16];
    q3_k_scales(x, sc);
    for (int g = 0; g < 16; g++) {
      const int8x16_t q = q3_k_slice_neon(x, g / 8, (g % 8) / 2, g % 2);
      const float dl = d * (float)sc[g];
      float32x4_t v[4];
      widen8_neon(vget_low_s8(q), dl, &v[0], &v[1]);
      widen8_neon(vget_high_s8(q), dl, &v[2], &v[3]);
      for (int k = 0; k < 4; k++) vst1q_f32(y + 16 * g + 4 * k, v[k]);
    }
  }
}

/* As the AVX2 dot: exact int32 lanes v % 8 (vmull_s8 keeps each product in its own lane; a
 * vdotq_s32 would add four neighbours and lose ggml's lane split), then ggml's f32 lane update. */
float dot_q3_k_q8_k_neon(const void *vx, const void *vy, size_t n) {
  const uint8_t *x = vx, *y = vy;
  float32x4_t lane0 = vdupq_n_f32(0.0f), lane1 = vdupq_n_f32(0.0f);
  for (size_t b = 0; b < n / QK_K; b++, x += Q3_K_BYTES, y += Q8_K_BYTES) {
    const int8_t *a = (const int8_t *)(y + Q8_K_QS);
    int8_t sc[16];
    q3_k_scales(x, sc);
    int32x4_t li0 = vdupq_n_s32(0), li1 = vdupq_n_s32(0);
    for (int g = 0; g < 16; g++) {
      const int8x16_t q = q3_k_slice_neon(x, g / 8, (g % 8) / 2, g % 2), av = vld1q_s8(a + 16 * g);
      const int16x8_t s = vdupq_n_s16(sc[g]);
      const int16x8_t p0 = vmulq_s16(vmull_s8(vget_low_s8(q), vget_low_s8(av)), s);
      const int16x8_t p1 = vmulq_s16(vmull_high_s8(q, av), s);
      li0 = vaddw_s16(vaddw_s16(li0, vget_low_s16(p0)), vget_low_s16(p1));
      li1 = vaddw_s16(vaddw_s16(li1, vget_high_s16(p0)), vget_high_s16(p1));
    }
    const float d = scale_at(x + Q3_K_D) * ld_f32(y);
    lane0 = vaddq_f32(lane0, vmulq_n_f32(vcvtq_f32_s32(li0), d));
    lane1 = vaddq_f32(lane1, vmulq_n_f32(vcvtq_f32_s32(li1), d));
  }
  float l8[8];
  vst1q_f32(l8, lane0);
  vst1q_f32(l8 + 4, lane1);
  return q3_k_lanes_total(l8);
}
#endif
