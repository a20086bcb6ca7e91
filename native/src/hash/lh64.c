/*
 * LH64, the prefix-hash `fast` mode (specified in packages/prefix-hash/src/fast.ts, which is
 * the bit-identical TypeScript path): eight 32-bit lanes absorb 8-word stripes with
 * v = rotl(v + w*P2, 13) * P1, then a fold and a short finish that mixes in the parent hash.
 * One AVX2 register, or two NEON registers, holds the eight lanes. The parent enters after the
 * content digest, so consecutive blocks' absorptions and digests are independent: a chain of
 * blocks of whole stripes (block_size % 8 == 0, with or without extra keys) folds and digests
 * several blocks at once with block k in vector lane k, and only the short parent mix runs
 * block after block. The scalar paths
 * (absorb_scalar, chain) are the reference every SIMD path is tested against.
 */
#include <string.h>

#include "../formats.h"

#define P1 0x9E3779B1u
#define P2 0x85EBCA77u
#define P3 0xC2B2AE3Du
#define P4 0x27D4EB2Fu
#define P5 0x165667B1u

static const uint32_t IV[8] = {P1 * 1u, P1 * 3u, P1 * 5u, P1 * 7u, P1 * 9u, P1 * 11u, P1 * 13u, P1 * 15u};

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

typedef void (*absorb_fn)(uint32_t v[8], const uint32_t *src, size_t stripes);

static void absorb_scalar(uint32_t v[8], const uint32_t *src, size_t stripes) {
  for (size_t s = 0; s < stripes; s++, src += 8) {
    for (int j = 0; j < 8; j++) v[j] = rotl32(v[j] + src[j] * P2, 13) * P1;
  }
}

#if LLMEM_X86
LLMEM_AVX2 static void absorb_avx2(uint32_t v[8], const uint32_t *src, size_t stripes) {
  const __m256i p1 = _mm256_set1_epi32((int)P1), p2 = _mm256_set1_epi32((int)P2);
  __m256i acc = _mm256_loadu_si256((const __m256i *)v);
  for (size_t s = 0; s < stripes; s++, src += 8) {
    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)src), p2));
    acc = _mm256_or_si256(_mm256_slli_epi32(acc, 13), _mm256_srli_epi32(acc, 19));
    acc = _mm256_mullo_epi32(acc, p1);
  }
  _mm256_storeu_si256((__m256i *)v, acc);
}
#endif

#if LLMEM_ARM
static void absorb_neon(uint32_t v[8], const uint32_t *src, size_t stripes) {
  uint32x4_t a = vld1q_u32(v), b = vld1q_u32(v + 4);
  for (size_t s = 0; s < stripes; s++, src += 8) {
    a = vmlaq_n_u32(a, vld1q_u32(src), P2);
    b = vmlaq_n_u32(b, vld1q_u32(src + 4), P2);
    a = vmulq_n_u32(vsriq_n_u32(vshlq_n_u32(a, 13), a, 19), P1);
    b = vmulq_n_u32(vsriq_n_u32(vshlq_n_u32(b, 13), b, 19), P1);
  }
  vst1q_u32(v, a);
  vst1q_u32(v + 4, b);
}
#endif

/* tokens[0..n) then extra[0..m) as one message, the last stripe zero-padded. */
static inline __attribute__((always_inline)) void absorb_message(absorb_fn absorb, uint32_t v[8],
                                                                  const uint32_t *tokens, size_t n,
                                                                  const uint32_t *extra, size_t m) {
  uint32_t tail[8];
  memcpy(v, IV, sizeof IV);
  size_t full = n / 8, t = n % 8, k = 0;
  absorb(v, tokens, full);
  if (t > 0) {
    /* the stripe that straddles the token/extra boundary */
    memcpy(tail, tokens + full * 8, t * sizeof *tail);
    while (t < 8 && k < m) tail[t++] = extra[k++];
    memset(tail + t, 0, (8 - t) * sizeof *tail);
    absorb(v, tail, 1);
  }
  if (k < m) {
    size_t fullb = (m - k) / 8;
    absorb(v, extra + k, fullb);
    k += fullb * 8;
    if (k < m) {
      memset(tail, 0, sizeof tail);
      memcpy(tail, extra + k, (m - k) * sizeof *tail);
      absorb(v, tail, 1);
    }
  }
}

/*
 * Step 5, the chain's only serial step, in a form with a shorter dependency path. The spec
 * writes it on the parent hash (pLo, pHi):
 *   a = (c ^ pLo ^ rotl(d ^ pHi, 16)) * P1,  b = (d ^ pHi ^ (a >> 15)) * P3,
 *   hash = (b, a ^ (b >> 16))
 * for a block whose content digest is (c, d). A chain keeps the previous block's (a, b)
 * instead: then pHi = b and pLo = a ^ (b >> 16), and since rotl(x, 16) = (x << 16) ^ (x >> 16),
 *   pLo ^ rotl(pHi, 16) = a ^ (b >> 16) ^ (b << 16) ^ (b >> 16) = a ^ (b << 16).
 * So the next block needs b << 16 and b itself, not the packed 64-bit hash: b to b is
 * shift, xor, multiply, shift, xor, multiply, and c ^ rotl(d, 16) is computed off that path
 * (the 128K-token chain in 16-token blocks went from ~54 to ~49 µs on AVX2).
 * The same arithmetic as the spec, bit for bit (test_hash.c checks it against the spec's form).
 */
typedef struct {
  uint32_t a, b;
} chain_state;

static inline chain_state state_of(uint64_t parent) {
  uint32_t hi = (uint32_t)(parent >> 32);
  return (chain_state){(uint32_t)parent ^ (hi >> 16), hi};
}

static inline uint64_t hash_of(chain_state s) { return ((uint64_t)s.b << 32) | (s.a ^ (s.b >> 16)); }

static inline void store_hash(chain_state s, uint32_t *out) {
  out[0] = s.a ^ (s.b >> 16);
  out[1] = s.b;
}

/* Step 4: the content digest (c, d) of a block from its folded lanes and lengths. It does not
 * depend on the parent, so consecutive blocks' digests overlap. */
static inline void content_digest(uint32_t lo, uint32_t hi, size_t words, size_t tokens, uint32_t *c,
                                  uint32_t *d) {
  uint32_t a = lo + (uint32_t)words * P5;
  uint32_t b = hi + (uint32_t)tokens * P4;
  a ^= rotl32(b, 11);
  a *= P1;
  a ^= a >> 15;
  b ^= rotl32(a, 17);
  b *= P2;
  b ^= b >> 13;
  a ^= rotl32(b, 11);
  a *= P3;
  a ^= a >> 16;
  b ^= rotl32(a, 17);
  b *= P4;
  b ^= b >> 16;
  *c = a;
  *d = b;
}

/* Step 5 on the chain state: the block with content digest (c, d) follows the block in s. */
static inline chain_state chain_step(chain_state s, uint32_t c, uint32_t d) {
  uint32_t early = c ^ rotl32(d, 16) ^ s.a; /* ready before the previous block's b */
  uint32_t a = (early ^ (s.b << 16)) * P1;
  uint32_t b = ((d ^ s.b) ^ (a >> 15)) * P3;
  return (chain_state){a, b};
}

/* Step 3: fold the lanes into (lo, hi). */
static inline void fold(const uint32_t v[8], uint32_t *lo, uint32_t *hi) {
  *lo = rotl32(v[0], 1) + rotl32(v[1], 7) + rotl32(v[2], 12) + rotl32(v[3], 18);
  *hi = rotl32(v[4], 1) + rotl32(v[5], 7) + rotl32(v[6], 12) + rotl32(v[7], 18);
}

/* Steps 3 to 5 of one block after its absorption. */
static inline chain_state finish(const uint32_t v[8], size_t words, size_t tokens, chain_state s) {
  uint32_t lo, hi, c, d;
  fold(v, &lo, &hi);
  content_digest(lo, hi, words, tokens, &c, &d);
  return chain_step(s, c, d);
}

/* One block (tokens ++ extra) following the block in s. */
static inline __attribute__((always_inline)) chain_state hash_block(absorb_fn absorb, const uint32_t *tokens,
                                                                    size_t n, const uint32_t *extra, size_t m,
                                                                    chain_state s) {
  uint32_t v[8];
  absorb_message(absorb, v, tokens, n, extra, m);
  return finish(v, n + m, n, s);
}

static inline __attribute__((always_inline)) void chain(absorb_fn absorb, const uint32_t *tokens,
                                                         size_t block_size, size_t n_blocks,
                                                         const uint32_t *extra, const uint32_t *offsets,
                                                         uint64_t parent, uint32_t *out) {
  chain_state st = state_of(parent);
  for (size_t i = 0; i < n_blocks; i++) {
    const uint32_t *e = offsets ? extra + offsets[i] : NULL;
    size_t m = offsets ? (size_t)(offsets[i + 1] - offsets[i]) : 0;
    st = hash_block(absorb, tokens + i * block_size, block_size, e, m, st);
    store_hash(st, out + 2 * i);
  }
}

/* Chains of blocks of whole stripes (block_size % 8 == 0, the usual sizes) keep the lanes in
 * registers from load to fold and digest several blocks at once. A block's extra-key words then
 * start a stripe of their own, so they are absorbed after its tokens without any shifting. */
#if LLMEM_X86
#define ROTL_V(x, r) _mm256_or_si256(_mm256_slli_epi32((x), (r)), _mm256_srli_epi32((x), 32 - (r)))

LLMEM_AVX2 static inline __m256i absorb_stripe_avx2(__m256i acc, __m256i w, __m256i p1, __m256i p2) {
  acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(w, p2));
  return _mm256_mullo_epi32(ROTL_V(acc, 13), p1);
}

/* One block's absorption (block_size token words, then m extra words, the last stripe
 * zero-padded), lanes rotated for the fold (step 3 before its sums). */
LLMEM_AVX2 static inline __m256i absorb_block_avx2(const uint32_t *tokens, size_t block_size, const uint32_t *extra,
                                                   size_t m, __m256i iv, __m256i p1, __m256i p2) {
  const __m256i left = _mm256_setr_epi32(1, 7, 12, 18, 1, 7, 12, 18);
  const __m256i right = _mm256_setr_epi32(31, 25, 20, 14, 31, 25, 20, 14);
  __m256i acc = iv;
  for (size_t s = 0; s < block_size; s += 8)
    acc = absorb_stripe_avx2(acc, _mm256_loadu_si256((const __m256i *)(tokens + s)), p1, p2);
  size_t s = 0;
  for (; s + 8 <= m; s += 8) acc = absorb_stripe_avx2(acc, _mm256_loadu_si256((const __m256i *)(extra + s)), p1, p2);
  if (s < m) {
    /* a masked load reads only the words that exist; the others are zero */
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(m - s)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    acc = absorb_stripe_avx2(acc, _mm256_maskload_epi32((const int *)(extra + s), mask), p1, p2);
  }
  return _mm256_or_si256(_mm256_sllv_epi32(acc, left), _mm256_srlv_epi32(acc, right));
}

/*
 * Eight blocks at a time: their absorptions, folds and content digests are independent, so
 * they run as vectors (the digest with block k in lane k); only step 5 stays scalar, fed
 * c ^ rotl(d, 16) and d per block. Per block that is about half the instructions of doing
 * the fold and digest in scalar code, which was the chain's bottleneck, not step 5's latency.
 * Block i's extra words are extra[offsets[i] .. offsets[i+1]) (none when offsets is NULL).
 */
LLMEM_AVX2 static inline __attribute__((always_inline)) void chain_stripes_avx2(
    const uint32_t *tokens, size_t block_size, size_t n_blocks, const uint32_t *extra, const uint32_t *offsets,
    uint64_t parent, uint32_t *out) {
  const __m256i p1 = _mm256_set1_epi32((int)P1), p2 = _mm256_set1_epi32((int)P2);
  const __m256i p3 = _mm256_set1_epi32((int)P3), p4 = _mm256_set1_epi32((int)P4);
  const __m256i p5 = _mm256_set1_epi32((int)P5);
  const __m256i iv = _mm256_loadu_si256((const __m256i *)IV);
  const __m256i bs = _mm256_set1_epi32((int)block_size);
  const __m256i tokens_term = _mm256_set1_epi32((int)((uint32_t)block_size * P4));
  chain_state st = state_of(parent);
  size_t i = 0;
  for (; i + 8 <= n_blocks; i += 8) {
    const uint32_t *t = tokens + i * block_size, *o = offsets ? offsets + i : NULL;
    /* eight named vectors, not an array: an array of them went through the stack */
#define ABSORB(k)                                                                                         \
  absorb_block_avx2(t + (k) * block_size, block_size, o ? extra + o[k] : NULL, o ? o[(k) + 1] - o[k] : 0, iv, \
                    p1, p2)
    __m256i r0 = ABSORB(0), r1 = ABSORB(1), r2 = ABSORB(2), r3 = ABSORB(3);
    __m256i r4 = ABSORB(4), r5 = ABSORB(5), r6 = ABSORB(6), r7 = ABSORB(7);
#undef ABSORB
    /* message lengths: block_size + each block's extra-word count */
    __m256i words = bs;
    if (o)
      words = _mm256_add_epi32(bs, _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(o + 1)),
                                                    _mm256_loadu_si256((const __m256i *)o)));
    /* hadd works per 128-bit half: after two rounds the low half holds lanes 0-3 sums (lo) of
     * four blocks, the high half their lanes 4-7 sums (hi) */
    __m256i q0 = _mm256_hadd_epi32(_mm256_hadd_epi32(r0, r1), _mm256_hadd_epi32(r2, r3));
    __m256i q1 = _mm256_hadd_epi32(_mm256_hadd_epi32(r4, r5), _mm256_hadd_epi32(r6, r7));
    __m256i a = _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x20), _mm256_mullo_epi32(words, p5));
    __m256i b = _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x31), tokens_term);
    /* step 4, as content_digest */
    a = _mm256_xor_si256(a, ROTL_V(b, 11));
    a = _mm256_mullo_epi32(a, p1);
    a = _mm256_xor_si256(a, _mm256_srli_epi32(a, 15));
    b = _mm256_xor_si256(b, ROTL_V(a, 17));
    b = _mm256_mullo_epi32(b, p2);
    b = _mm256_xor_si256(b, _mm256_srli_epi32(b, 13));
    a = _mm256_xor_si256(a, ROTL_V(b, 11));
    a = _mm256_mullo_epi32(a, p3);
    a = _mm256_xor_si256(a, _mm256_srli_epi32(a, 16));
    b = _mm256_xor_si256(b, ROTL_V(a, 17));
    b = _mm256_mullo_epi32(b, p4);
    b = _mm256_xor_si256(b, _mm256_srli_epi32(b, 16));
    uint32_t early[8], d[8];
    _mm256_storeu_si256((__m256i *)early, _mm256_xor_si256(a, ROTL_V(b, 16)));
    _mm256_storeu_si256((__m256i *)d, b);
    /* step 5, as chain_step with c ^ rotl(d, 16) precomputed */
    for (int k = 0; k < 8; k++) {
      uint32_t na = (early[k] ^ st.a ^ (st.b << 16)) * P1;
      st.b = (d[k] ^ st.b ^ (na >> 15)) * P3;
      st.a = na;
      store_hash(st, out + 2 * (i + k));
    }
  }
  for (; i < n_blocks; i++) {
    size_t m = offsets ? offsets[i + 1] - offsets[i] : 0;
    const uint32_t *e = offsets ? extra + offsets[i] : NULL;
    __m256i r = absorb_block_avx2(tokens + i * block_size, block_size, e, m, iv, p1, p2);
    __m128i x = _mm_hadd_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    x = _mm_hadd_epi32(x, x); /* lo = lanes 0-3, hi = lanes 4-7 */
    uint32_t c, dd;
    content_digest((uint32_t)_mm_cvtsi128_si32(x), (uint32_t)_mm_extract_epi32(x, 1), block_size + m, block_size,
                   &c, &dd);
    st = chain_step(st, c, dd);
    store_hash(st, out + 2 * i);
  }
}
/* Instantiated apart, so the chain without extra keys carries no code for them. */
LLMEM_AVX2 static void chain_plain_avx2(const uint32_t *t, size_t bs, size_t nb, uint64_t p, uint32_t *out) {
  chain_stripes_avx2(t, bs, nb, NULL, NULL, p, out);
}
LLMEM_AVX2 static void chain_keyed_avx2(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e,
                                        const uint32_t *o, uint64_t p, uint32_t *out) {
  chain_stripes_avx2(t, bs, nb, e, o, p, out);
}
#undef ROTL_V
#endif

#if LLMEM_ARM
#define ROTL_N(x, r) vsriq_n_u32(vshlq_n_u32((x), (r)), (x), 32 - (r))

static inline void absorb_stripe_neon(uint32x4_t *a, uint32x4_t *b, const uint32_t *w) {
  *a = vmlaq_n_u32(*a, vld1q_u32(w), P2);
  *b = vmlaq_n_u32(*b, vld1q_u32(w + 4), P2);
  *a = vmulq_n_u32(ROTL_N(*a, 13), P1);
  *b = vmulq_n_u32(ROTL_N(*b, 13), P1);
}

/* One block's absorption (block_size token words, then m extra words, the last stripe
 * zero-padded), lanes 0-3 in *ra and 4-7 in *rb, rotated for the fold. */
static inline __attribute__((always_inline)) void absorb_block_neon(const uint32_t *tokens, size_t block_size,
                                                                    const uint32_t *extra, size_t m,
                                                                    uint32x4_t *ra, uint32x4_t *rb) {
  static const int32_t left[4] = {1, 7, 12, 18}, right[4] = {-31, -25, -20, -14};
  const int32x4_t l = vld1q_s32(left), r = vld1q_s32(right);
  uint32x4_t a = vld1q_u32(IV), b = vld1q_u32(IV + 4);
  for (size_t s = 0; s < block_size; s += 8) absorb_stripe_neon(&a, &b, tokens + s);
  size_t s = 0;
  for (; s + 8 <= m; s += 8) absorb_stripe_neon(&a, &b, extra + s);
  if (s < m) {
    uint32_t tail[8] = {0};
    for (size_t k = 0; s + k < m; k++) tail[k] = extra[s + k];
    absorb_stripe_neon(&a, &b, tail);
  }
  *ra = vorrq_u32(vshlq_u32(a, l), vshlq_u32(a, r));
  *rb = vorrq_u32(vshlq_u32(b, l), vshlq_u32(b, r));
}

/* Four blocks at a time, as chain_stripes_avx2 does eight: absorb, fold and digest as vectors
 * (block k in lane k), step 5 scalar. */
static inline __attribute__((always_inline)) void chain_stripes_neon(const uint32_t *tokens, size_t block_size,
                                                                     size_t n_blocks, const uint32_t *extra,
                                                                     const uint32_t *offsets, uint64_t parent,
                                                                     uint32_t *out) {
  const uint32x4_t bs = vdupq_n_u32((uint32_t)block_size);
  const uint32x4_t tokens_term = vdupq_n_u32((uint32_t)block_size * P4);
  chain_state st = state_of(parent);
  size_t i = 0;
  for (; i + 4 <= n_blocks; i += 4) {
    const uint32_t *t = tokens + i * block_size, *o = offsets ? offsets + i : NULL;
    uint32x4_t a0, b0, a1, b1, a2, b2, a3, b3;
#define ABSORB(k, ra, rb) \
  absorb_block_neon(t + (k) * block_size, block_size, o ? extra + o[k] : NULL, o ? o[(k) + 1] - o[k] : 0, ra, rb)
    ABSORB(0, &a0, &b0);
    ABSORB(1, &a1, &b1);
    ABSORB(2, &a2, &b2);
    ABSORB(3, &a3, &b3);
#undef ABSORB
    /* message lengths: block_size + each block's extra-word count */
    uint32x4_t words = o ? vaddq_u32(bs, vsubq_u32(vld1q_u32(o + 1), vld1q_u32(o))) : bs;
    /* pairwise adds: lane k = the sum of block k's four lanes */
    uint32x4_t a = vmlaq_n_u32(vpaddq_u32(vpaddq_u32(a0, a1), vpaddq_u32(a2, a3)), words, P5);
    uint32x4_t b = vaddq_u32(vpaddq_u32(vpaddq_u32(b0, b1), vpaddq_u32(b2, b3)), tokens_term);
    /* step 4, as content_digest */
    a = vmulq_n_u32(veorq_u32(a, ROTL_N(b, 11)), P1);
    a = veorq_u32(a, vshrq_n_u32(a, 15));
    b = vmulq_n_u32(veorq_u32(b, ROTL_N(a, 17)), P2);
    b = veorq_u32(b, vshrq_n_u32(b, 13));
    a = vmulq_n_u32(veorq_u32(a, ROTL_N(b, 11)), P3);
    a = veorq_u32(a, vshrq_n_u32(a, 16));
    b = vmulq_n_u32(veorq_u32(b, ROTL_N(a, 17)), P4);
    b = veorq_u32(b, vshrq_n_u32(b, 16));
    uint32_t early[4], d[4];
    vst1q_u32(early, veorq_u32(a, ROTL_N(b, 16)));
    vst1q_u32(d, b);
    /* step 5, as chain_step with c ^ rotl(d, 16) precomputed */
    for (int k = 0; k < 4; k++) {
      uint32_t na = (early[k] ^ st.a ^ (st.b << 16)) * P1;
      st.b = (d[k] ^ st.b ^ (na >> 15)) * P3;
      st.a = na;
      store_hash(st, out + 2 * (i + k));
    }
  }
  for (; i < n_blocks; i++) {
    size_t m = offsets ? offsets[i + 1] - offsets[i] : 0;
    uint32x4_t ra, rb;
    absorb_block_neon(tokens + i * block_size, block_size, offsets ? extra + offsets[i] : NULL, m, &ra, &rb);
    uint32_t c, d;
    content_digest(vaddvq_u32(ra), vaddvq_u32(rb), block_size + m, block_size, &c, &d);
    st = chain_step(st, c, d);
    store_hash(st, out + 2 * i);
  }
}

/* Instantiated apart, so the chain without extra keys carries no code for them. */
static void chain_plain_neon(const uint32_t *t, size_t bs, size_t nb, uint64_t p, uint32_t *out) {
  chain_stripes_neon(t, bs, nb, NULL, NULL, p, out);
}
static void chain_keyed_neon(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e, const uint32_t *o,
                             uint64_t p, uint32_t *out) {
  chain_stripes_neon(t, bs, nb, e, o, p, out);
}
#undef ROTL_N
#endif

uint64_t lh64_block_scalar(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p) {
  return hash_of(hash_block(absorb_scalar, t, n, e, m, state_of(p)));
}
void lh64_chain_scalar(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e, const uint32_t *o,
                         uint64_t p, uint32_t *out) {
  chain(absorb_scalar, t, bs, nb, e, o, p, out);
}
#if LLMEM_X86
LLMEM_AVX2 uint64_t lh64_block_avx2(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p) {
  return hash_of(hash_block(absorb_avx2, t, n, e, m, state_of(p)));
}
LLMEM_AVX2 void lh64_chain_avx2(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e,
                                  const uint32_t *o, uint64_t p, uint32_t *out) {
  if (bs % 8 != 0) chain(absorb_avx2, t, bs, nb, e, o, p, out);
  else if (o) chain_keyed_avx2(t, bs, nb, e, o, p, out);
  else chain_plain_avx2(t, bs, nb, p, out);
}
#endif
#if LLMEM_ARM
uint64_t lh64_block_neon(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p) {
  return hash_of(hash_block(absorb_neon, t, n, e, m, state_of(p)));
}
void lh64_chain_neon(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e, const uint32_t *o,
                       uint64_t p, uint32_t *out) {
  if (bs % 8 != 0) chain(absorb_neon, t, bs, nb, e, o, p, out);
  else if (o) chain_keyed_neon(t, bs, nb, e, o, p, out);
  else chain_plain_neon(t, bs, nb, p, out);
}
#endif

uint64_t llmem_hash64(const uint32_t *tokens, size_t n_tokens, const uint32_t *extra, size_t n_extra,
                      uint64_t parent) {
  return llmem_isa_kernels_active.hash64(tokens, n_tokens, extra, n_extra, parent);
}

void llmem_hash64_chain(const uint32_t *tokens, size_t block_size, size_t n_blocks, const uint32_t *extra,
                        const uint32_t *extra_offsets, uint64_t parent, uint32_t *out) {
  llmem_isa_kernels_active.hash64_chain(tokens, block_size, n_blocks, extra, extra_offsets, parent, out);
}
