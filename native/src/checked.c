/* The bounded entry points: the only kernels libllmem.so exports. Each takes, beside every
 * pointer, the byte capacity of the memory behind it (the binding passes what the engine
 * measured), and checks that the call stays inside it before touching anything. They are
 * defence in depth: @llmem/native validates first, and a buffer too small here means the binding
 * let something through. Refusals: LLMEM_EINVAL (-1: unsupported format, partial block, bad
 * geometry) or LLMEM_EBOUNDS (-2: a buffer smaller than the call needs); calls returning a value
 * return NaN (floats) or 0 (integers) and leave the code for llmem_last_error.
 *
 * Cost: a few multiplies and one comparison per buffer (block sizes are powers of two, so no
 * division), then the trusted kernel of the same name without the suffix. */
#include <math.h>

#include "formats.h"

static _Thread_local int last_error;

int llmem_last_error(void) {
  const int e = last_error;
  last_error = 0;
  return e;
}

/* count * unit <= have, without overflow. */
static inline int fits(size_t count, size_t unit, size_t have) {
  size_t need;
  return !__builtin_mul_overflow(count, unit, &need) && need <= have;
}

/* n values of `format` (a whole number of its blocks) fit in `have` bytes: 0, or the error. */
static inline int values_fit(int format, size_t n, size_t have) {
  const llmem_format_traits *f = &llmem_formats[format];
  const size_t bs = (size_t)f->block_size; /* 1, 32 or 256 */
  if (n & (bs - 1)) return LLMEM_EINVAL;
  return fits(n >> __builtin_ctzll(bs), f->block_bytes, have) ? 0 : LLMEM_EBOUNDS;
}

static inline float refused_f(int e) {
  last_error = e;
  return NAN;
}

/* ---- memory ---- */
int llmem_zero_checked(void *p, size_t p_bytes, size_t bytes) {
  if (bytes > p_bytes) return LLMEM_EBOUNDS;
  if (bytes) llmem_zero(p, bytes);
  return 0;
}

int llmem_copy_checked(void *dst, size_t dst_bytes, const void *src, size_t src_bytes, size_t bytes) {
  if (bytes > dst_bytes || bytes > src_bytes) return LLMEM_EBOUNDS;
  if (bytes) llmem_copy(dst, src, bytes);
  return 0;
}

uint64_t llmem_read_bytes_checked(const void *p, size_t p_bytes, size_t bytes) {
  if (bytes > p_bytes) {
    last_error = LLMEM_EBOUNDS;
    return 0;
  }
  return llmem_read_bytes(p, bytes);
}

/* ---- dots ---- */
static inline int dot_fit(int fx, size_t x_bytes, int fy, size_t y_bytes, size_t n) {
  int e = values_fit(fx, n, x_bytes);
  return e ? e : values_fit(fy, n, y_bytes);
}

/* Dots take 32-bit sizes: they are the calls decode makes ~10^4 times per token one row at a
 * time, and bun:ffi converts a u64 argument ~3 ns slower than a u32 one (five u64 arguments cost
 * more than the dot of a 256-value row). A row of 2^32 bytes is far past any model's; the binding
 * refuses larger calls and clamps capacities (a smaller capacity only makes this check stricter). */
#define LLMEM_DOT_CHECKED(name, FX, FY)                                                                        \
  float llmem_##name##_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n) { \
    const int e = dot_fit(FX, x_bytes, FY, y_bytes, n);                                                        \
    return e ? refused_f(e) : llmem_##name(x, y, n);                                                           \
  }
LLMEM_DOT_CHECKED(dot_f32, LLMEM_F32, LLMEM_F32)
LLMEM_DOT_CHECKED(dot_f16_f32, LLMEM_F16, LLMEM_F32)
LLMEM_DOT_CHECKED(dot_q8_0_q8_0, LLMEM_Q8_0, LLMEM_Q8_0)
LLMEM_DOT_CHECKED(dot_q4_0_q8_0, LLMEM_Q4_0, LLMEM_Q8_0)
LLMEM_DOT_CHECKED(dot_q4_1_q8_1, LLMEM_Q4_1, LLMEM_Q8_1)
LLMEM_DOT_CHECKED(dot_q4_k_q8_k, LLMEM_Q4_K, LLMEM_Q8_K)
LLMEM_DOT_CHECKED(dot_q5_k_q8_k, LLMEM_Q5_K, LLMEM_Q8_K)
LLMEM_DOT_CHECKED(dot_q2_k_q8_k, LLMEM_Q2_K, LLMEM_Q8_K)
LLMEM_DOT_CHECKED(dot_q3_k_q8_k, LLMEM_Q3_K, LLMEM_Q8_K)
LLMEM_DOT_CHECKED(dot_q6_k_q8_k, LLMEM_Q6_K, LLMEM_Q8_K)
LLMEM_DOT_CHECKED(dot_q5_0_q8_0, LLMEM_Q5_0, LLMEM_Q8_0)
LLMEM_DOT_CHECKED(dot_q5_1_q8_1, LLMEM_Q5_1, LLMEM_Q8_1)
LLMEM_DOT_CHECKED(dot_iq4_nl_q8_0, LLMEM_IQ4_NL, LLMEM_Q8_0)
LLMEM_DOT_CHECKED(dot_iq4_xs_q8_k, LLMEM_IQ4_XS, LLMEM_Q8_K)

/* ---- conversions, quantize ---- */
#define LLMEM_CONVERT_CHECKED(name, SRC_T, FS, DST_T, FD)                                                  \
  int llmem_##name##_checked(const SRC_T *src, size_t src_bytes, DST_T *dst, size_t dst_bytes, size_t n) { \
    const int e = dot_fit(FS, src_bytes, FD, dst_bytes, n);                                                \
    if (e) return e;                                                                                       \
    llmem_##name(src, dst, n);                                                                             \
    return 0;                                                                                              \
  }
LLMEM_CONVERT_CHECKED(f32_to_f16, float, LLMEM_F32, uint16_t, LLMEM_F16)
LLMEM_CONVERT_CHECKED(f16_to_f32, uint16_t, LLMEM_F16, float, LLMEM_F32)
LLMEM_CONVERT_CHECKED(f32_to_bf16, float, LLMEM_F32, uint16_t, LLMEM_BF16)
LLMEM_CONVERT_CHECKED(bf16_to_f32, uint16_t, LLMEM_BF16, float, LLMEM_F32)

int llmem_quantize_checked(int format, const float *src, size_t src_bytes, void *dst, size_t dst_bytes, size_t n) {
  if (!llmem_format_has(format, LLMEM_FORMAT_QUANT)) return LLMEM_EINVAL;
  const int e = dot_fit(LLMEM_F32, src_bytes, format, dst_bytes, n);
  return e ? e : llmem_quantize(format, src, dst, n);
}

int llmem_dequantize_checked(int format, const void *src, size_t src_bytes, float *dst, size_t dst_bytes, size_t n) {
  if (!llmem_format_has(format, LLMEM_FORMAT_QUANT)) return LLMEM_EINVAL;
  const int e = dot_fit(format, src_bytes, LLMEM_F32, dst_bytes, n);
  return e ? e : llmem_dequantize(format, src, dst, n);
}

int llmem_kv_quantize_refined_checked(int format, const float *src, size_t src_bytes, void *dst, size_t dst_bytes,
                                      size_t n) {
  if (format != LLMEM_Q4_0 && format != LLMEM_Q4_1) return LLMEM_EINVAL;
  const int e = dot_fit(LLMEM_F32, src_bytes, format, dst_bytes, n);
  return e ? e : llmem_kv_quantize_refined(format, src, dst, n);
}

int llmem_metal_dequantize_checked(int format, const void *src, size_t src_bytes, float *dst, size_t dst_bytes,
                                   size_t n) {
  if (!llmem_format_has(format, LLMEM_FORMAT_QUANT)) return LLMEM_EINVAL;
  const int e = dot_fit(format, src_bytes, LLMEM_F32, dst_bytes, n);
  return e ? e : llmem_metal_dequantize(format, src, dst, n);
}

/* ---- matvec / matmul ---- */
/* Bytes of matvec's scratch for one token: cols/32 f32 scales, then x in the vec_dot format
 * (0 when the format's dot takes f32 x). */
static size_t matvec_scratch_need(int format, size_t cols) {
  const int vf = llmem_formats[format].vec_dot_format;
  if (vf == LLMEM_F32) return 0;
  const llmem_format_traits *q = &llmem_formats[vf];
  return cols / 32 * sizeof(float) + cols / (size_t)q->block_size * q->block_bytes;
}

/* W (rows × cols of a matrix format), X (n × cols f32) and Y (n × rows f32) fit. */
static int matrix_fit(int format, size_t w_bytes, size_t rows, size_t cols, size_t x_bytes, size_t n,
                      size_t y_bytes) {
  if (!llmem_format_has(format, LLMEM_FORMAT_MATRIX)) return LLMEM_EINVAL;
  const llmem_format_traits *f = &llmem_formats[format];
  const size_t bs = (size_t)f->block_size;
  if (cols & (bs - 1)) return LLMEM_EINVAL;
  size_t row_bytes, wn, xn, yn;
  if (__builtin_mul_overflow(cols >> __builtin_ctzll(bs), f->block_bytes, &row_bytes) ||
      __builtin_mul_overflow(rows, row_bytes, &wn) || wn > w_bytes || __builtin_mul_overflow(n, cols, &xn) ||
      !fits(xn, sizeof(float), x_bytes) || __builtin_mul_overflow(n, rows, &yn) || !fits(yn, sizeof(float), y_bytes))
    return LLMEM_EBOUNDS;
  return 0;
}

int llmem_matvec_checked(int format, const void *w, size_t w_bytes, uint32_t rows, uint32_t cols, const float *x,
                         uint32_t x_bytes, float *y, uint32_t y_bytes, void *scratch, uint32_t scratch_bytes) {
  const int e = matrix_fit(format, w_bytes, rows, cols, x_bytes, 1, y_bytes);
  if (e) return e;
  if (matvec_scratch_need(format, cols) > (scratch ? scratch_bytes : 0)) return LLMEM_EBOUNDS;
  return llmem_matvec(format, w, rows, cols, x, y, scratch);
}

int llmem_matmul_checked(int format, const void *w, size_t w_bytes, size_t rows, size_t cols, const float *x,
                         size_t x_bytes, size_t n, float *y, size_t y_bytes, void *scratch, size_t scratch_bytes) {
  const int e = matrix_fit(format, w_bytes, rows, cols, x_bytes, n, y_bytes);
  if (e) return e;
  if (!fits(n, llmem_matmul_scratch_stride(format, cols), scratch ? scratch_bytes : 0)) return LLMEM_EBOUNDS;
  return llmem_matmul(format, w, rows, cols, x, n, y, scratch);
}

/* The used parts of a three-part call (a NULL w ends them; none may follow): their count, or
 * -1 for none or a gap, or a used part without its y. */
static int used_parts(const void *const w[LLMEM_MATMUL_PARTS], float *const y[LLMEM_MATMUL_PARTS]) {
  int parts = 0;
  while (parts < LLMEM_MATMUL_PARTS && w[parts]) parts++;
  for (int k = parts; k < LLMEM_MATMUL_PARTS; k++)
    if (w[k]) return -1;
  for (int k = 0; k < parts; k++)
    if (!y[k]) return -1;
  return parts == 0 ? -1 : parts;
}

/* The used parts of a three-part call, each part's W, X (n tokens) and Y fitting: their count,
 * or LLMEM_EINVAL / LLMEM_EBOUNDS. */
static int parts_fit(int format, size_t cols, size_t x_bytes, size_t n, const void *const w[LLMEM_MATMUL_PARTS],
                     const size_t w_bytes[LLMEM_MATMUL_PARTS], const size_t rows[LLMEM_MATMUL_PARTS],
                     float *const y[LLMEM_MATMUL_PARTS], const size_t y_bytes[LLMEM_MATMUL_PARTS]) {
  const int parts = used_parts(w, y);
  if (parts < 0) return LLMEM_EINVAL;
  for (int k = 0; k < parts; k++) {
    const int e = matrix_fit(format, w_bytes[k], rows[k], cols, x_bytes, n, y_bytes[k]);
    if (e) return e;
  }
  return parts;
}

int llmem_matvec3_checked(int format, uint32_t cols, const float *x, uint32_t x_bytes, void *scratch,
                          uint32_t scratch_bytes, const void *w0, size_t w0_bytes, uint32_t rows0, float *y0,
                          uint32_t y0_bytes, const void *w1, size_t w1_bytes, uint32_t rows1, float *y1,
                          uint32_t y1_bytes, const void *w2, size_t w2_bytes, uint32_t rows2, float *y2,
                          uint32_t y2_bytes) {
  const void *const w[LLMEM_MATMUL_PARTS] = {w0, w1, w2};
  const size_t w_bytes[LLMEM_MATMUL_PARTS] = {w0_bytes, w1_bytes, w2_bytes}, rows[LLMEM_MATMUL_PARTS] = {rows0, rows1, rows2};
  float *const y[LLMEM_MATMUL_PARTS] = {y0, y1, y2};
  const size_t y_bytes[LLMEM_MATMUL_PARTS] = {y0_bytes, y1_bytes, y2_bytes};
  const int parts = parts_fit(format, cols, x_bytes, 1, w, w_bytes, rows, y, y_bytes);
  if (parts < 0) return parts;
  if (matvec_scratch_need(format, cols) > (scratch ? scratch_bytes : 0)) return LLMEM_EBOUNDS;
  return llmem_matvec_parts(format, cols, x, scratch, (size_t)parts, w, rows, y);
}

int llmem_matmul3_checked(int format, size_t cols, const float *x, size_t x_bytes, size_t n, void *scratch,
                          size_t scratch_bytes, const void *w0, size_t w0_bytes, size_t rows0, float *y0,
                          size_t y0_bytes, const void *w1, size_t w1_bytes, size_t rows1, float *y1, size_t y1_bytes,
                          const void *w2, size_t w2_bytes, size_t rows2, float *y2, size_t y2_bytes) {
  const void *const w[LLMEM_MATMUL_PARTS] = {w0, w1, w2};
  const size_t w_bytes[LLMEM_MATMUL_PARTS] = {w0_bytes, w1_bytes, w2_bytes}, rows[LLMEM_MATMUL_PARTS] = {rows0, rows1, rows2};
  float *const y[LLMEM_MATMUL_PARTS] = {y0, y1, y2};
  const size_t y_bytes[LLMEM_MATMUL_PARTS] = {y0_bytes, y1_bytes, y2_bytes};
  const int parts = parts_fit(format, cols, x_bytes, n, w, w_bytes, rows, y, y_bytes);
  if (parts < 0) return parts;
  if (!fits(n, llmem_matmul_scratch_stride(format, cols), scratch ? scratch_bytes : 0)) return LLMEM_EBOUNDS;
  return llmem_matmul_parts(format, cols, x, n, scratch, (size_t)parts, w, rows, y);
}

int llmem_metal_matvec_checked(int format, const void *w, size_t w_bytes, size_t rows, size_t cols, const float *x,
                               size_t x_bytes, float *y, size_t y_bytes) {
  const int e = matrix_fit(format, w_bytes, rows, cols, x_bytes, 1, y_bytes);
  return e ? e : llmem_metal_matvec(format, w, rows, cols, x, y);
}

/* ---- attention over rows ---- */
/* count rows of head_dim values at base + offset + t*stride lie inside base_bytes. */
static int rows_fit(int format, size_t base_bytes, size_t offset, size_t stride, size_t count, size_t head_dim) {
  if (!llmem_row_format_ok(format, head_dim)) return LLMEM_EINVAL;
  if (count == 0) return 0;
  const size_t row = llmem_kv_row_bytes(format, head_dim);
  size_t last, end;
  if (__builtin_mul_overflow(count - 1, stride, &last) || __builtin_add_overflow(last, offset, &end) ||
      __builtin_add_overflow(end, row, &end) || end > base_bytes)
    return LLMEM_EBOUNDS;
  return 0;
}

int llmem_attn_scores_checked(int format, const float *query, uint32_t query_bytes, const void *base,
                              size_t base_bytes, size_t offset_bytes, size_t stride_bytes, uint32_t count,
                              uint32_t head_dim, float scale, float *out, uint32_t out_bytes) {
  const int e = rows_fit(format, base_bytes, offset_bytes, stride_bytes, count, head_dim);
  if (e) return e;
  if (!fits(head_dim, sizeof(float), query_bytes) || !fits(count, sizeof(float), out_bytes)) return LLMEM_EBOUNDS;
  return llmem_attn_scores(format, query, base, offset_bytes, stride_bytes, count, head_dim, scale, out);
}

int llmem_attn_weighted_sum_checked(int format, const float *weights, uint32_t weights_bytes, const void *base,
                                    size_t base_bytes, size_t offset_bytes, size_t stride_bytes, uint32_t count,
                                    uint32_t head_dim, float *out, uint32_t out_bytes) {
  const int e = rows_fit(format, base_bytes, offset_bytes, stride_bytes, count, head_dim);
  if (e) return e;
  if (!fits(count, sizeof(float), weights_bytes) || !fits(head_dim, sizeof(float), out_bytes)) return LLMEM_EBOUNDS;
  return llmem_attn_weighted_sum(format, weights, base, offset_bytes, stride_bytes, count, head_dim, out);
}

/* ---- element-wise rows ---- */
/* rows * cols floats fit in have bytes. */
static inline int floats_fit(size_t rows, size_t cols, size_t have) {
  size_t n;
  return !__builtin_mul_overflow(rows, cols, &n) && fits(n, sizeof(float), have);
}

int llmem_rmsnorm_rows_checked(int style, const float *x, size_t x_bytes, const float *weight, size_t weight_bytes,
                               size_t rows, size_t dim, float eps, float *out, size_t out_bytes) {
  if (!floats_fit(rows, dim, x_bytes) || !floats_fit(1, dim, weight_bytes) || !floats_fit(rows, dim, out_bytes))
    return LLMEM_EBOUNDS;
  return llmem_rmsnorm_rows(style, x, weight, rows, dim, eps, out);
}

int llmem_rope_rows_checked(float *v, size_t v_bytes, size_t rows, size_t width, size_t head_size, size_t dims,
                            int neox, const float *cos, size_t cos_bytes, const float *sin, size_t sin_bytes,
                            size_t table_stride) {
  if (!floats_fit(rows, width, v_bytes)) return LLMEM_EBOUNDS;
  if (rows) {
    /* Row t reads angles [t*table_stride, t*table_stride + dims/2). */
    size_t last;
    if (__builtin_mul_overflow(rows - 1, table_stride, &last) || __builtin_add_overflow(last, dims / 2, &last) ||
        !floats_fit(1, last, cos_bytes) || !floats_fit(1, last, sin_bytes))
      return LLMEM_EBOUNDS;
  }
  return llmem_rope_rows(v, rows, width, head_size, dims, neox, cos, sin, table_stride);
}

int llmem_swiglu_checked(int style, float *gate, size_t gate_bytes, const float *up, size_t up_bytes, size_t n) {
  if (!floats_fit(1, n, gate_bytes) || !floats_fit(1, n, up_bytes)) return LLMEM_EBOUNDS;
  return llmem_swiglu(style, gate, up, n);
}

int llmem_add_checked(float *x, size_t x_bytes, const float *y, size_t y_bytes, size_t n) {
  if (!floats_fit(1, n, x_bytes) || !floats_fit(1, n, y_bytes)) return LLMEM_EBOUNDS;
  llmem_add(x, y, n);
  return 0;
}

/* ---- hashing ---- */
uint64_t llmem_hash64_checked(const uint32_t *tokens, size_t tokens_bytes, size_t n_tokens, const uint32_t *extra,
                              size_t extra_bytes, size_t n_extra, uint64_t parent) {
  if (!fits(n_tokens, 4, tokens_bytes) || !fits(n_extra, 4, extra ? extra_bytes : 0)) {
    last_error = LLMEM_EBOUNDS;
    return 0;
  }
  return llmem_hash64(tokens, n_tokens, extra, n_extra, parent);
}

int llmem_hash64_chain_checked(const uint32_t *tokens, size_t tokens_bytes, size_t block_size, size_t n_blocks,
                               const uint32_t *extra, size_t extra_bytes, const uint32_t *extra_offsets,
                               size_t offsets_bytes, uint64_t parent, uint32_t *out, size_t out_bytes) {
  size_t n_tok;
  if (__builtin_mul_overflow(block_size, n_blocks, &n_tok) || !fits(n_tok, 4, tokens_bytes) ||
      !fits(n_blocks, 8, out_bytes))
    return LLMEM_EBOUNDS;
  if (extra_offsets) {
    /* Block i hashes extra[offsets[i] .. offsets[i+1]): the offsets must not go back, and the
     * last must stay inside extra. */
    if (n_blocks == SIZE_MAX || !fits(n_blocks + 1, 4, offsets_bytes)) return LLMEM_EBOUNDS;
    for (size_t i = 0; i < n_blocks; i++)
      if (extra_offsets[i + 1] < extra_offsets[i]) return LLMEM_EINVAL;
    if (!fits(extra_offsets[n_blocks], 4, extra ? extra_bytes : 0)) return LLMEM_EBOUNDS;
  }
  if (n_blocks) llmem_hash64_chain(tokens, block_size, n_blocks, extra, extra_offsets, parent, out);
  return 0;
}

/* ---- paged attention ---- */
/* The pools, block table and per-head buffers of a paged attention call over nq queries fit; the
 * last query attends over num_tokens tokens. */
static int paged_fit(int format, size_t nq, size_t query_bytes, size_t num_heads, size_t num_kv_heads, size_t head_dim,
                     size_t k_bytes, size_t v_bytes, const uint32_t *block_table, size_t table_bytes,
                     size_t block_size, size_t num_tokens, size_t out_bytes, size_t lse_bytes) {
  size_t qn, ln;
  if (__builtin_mul_overflow(num_heads, head_dim, &qn) || __builtin_mul_overflow(qn, nq, &qn) ||
      __builtin_mul_overflow(num_heads, nq, &ln) || !fits(qn, sizeof(float), query_bytes) ||
      !fits(qn, sizeof(float), out_bytes) || !fits(ln, sizeof(float), lse_bytes))
    return LLMEM_EBOUNDS;
  if (num_tokens == 0) return 0;
  const size_t row = llmem_kv_row_bytes(format, head_dim);
  if (row == 0 || num_kv_heads == 0 || block_size == 0 || num_heads % num_kv_heads) return LLMEM_EINVAL;
  size_t token_bytes, block_bytes;
  const size_t blocks = num_tokens / block_size + (num_tokens % block_size != 0);
  if (__builtin_mul_overflow(num_kv_heads, row, &token_bytes) ||
      __builtin_mul_overflow(block_size, token_bytes, &block_bytes) || !fits(blocks, 4, table_bytes))
    return LLMEM_EBOUNDS;
  const size_t pool = k_bytes < v_bytes ? k_bytes : v_bytes;
  for (size_t b = 0; b < blocks; b++)
    if (!fits((size_t)block_table[b] + 1, block_bytes, pool)) return LLMEM_EBOUNDS;
  return 0;
}

int llmem_paged_attention_checked(int format, const float *query, size_t query_bytes, size_t num_heads,
                                  size_t num_kv_heads, size_t head_dim, const void *k_pool, size_t k_bytes,
                                  const void *v_pool, size_t v_bytes, const uint32_t *block_table,
                                  size_t table_bytes, size_t block_size, size_t num_tokens, float scale,
                                  float *scratch, size_t scratch_bytes, float *out, size_t out_bytes, float *lse,
                                  size_t lse_bytes) {
  const int e = paged_fit(format, 1, query_bytes, num_heads, num_kv_heads, head_dim, k_bytes, v_bytes, block_table,
                          table_bytes, block_size, num_tokens, out_bytes, lse_bytes);
  if (e) return e;
  size_t sn;
  if (num_tokens && (__builtin_mul_overflow(num_tokens, num_heads, &sn) ||
                     __builtin_add_overflow(sn, 32 * head_dim, &sn) || !fits(sn, sizeof(float), scratch_bytes)))
    return LLMEM_EBOUNDS;
  llmem_paged_attention(format, query, num_heads, num_kv_heads, head_dim, k_pool, v_pool, block_table, block_size,
                        num_tokens, scale, scratch, out, lse);
  return 0;
}

int llmem_metal_paged_attention_checked(int format, const float *query, size_t query_bytes, size_t num_heads,
                                        size_t num_kv_heads, size_t head_dim, const void *k_pool, size_t k_bytes,
                                        const void *v_pool, size_t v_bytes, const uint32_t *block_table,
                                        size_t table_bytes, size_t block_size, size_t num_tokens, float scale,
                                        float *out, size_t out_bytes, float *lse, size_t lse_bytes) {
  const int e = paged_fit(format, 1, query_bytes, num_heads, num_kv_heads, head_dim, k_bytes, v_bytes, block_table,
                          table_bytes, block_size, num_tokens, out_bytes, lse_bytes);
  if (e) return e;
  return llmem_metal_paged_attention(format, query, num_heads, num_kv_heads, head_dim, k_pool, k_bytes, v_pool,
                                     v_bytes, block_table, block_size, num_tokens, scale, out, lse);
}

int llmem_paged_attention_chunk_checked(int format, const float *queries, size_t queries_bytes, size_t num_queries,
                                        size_t num_heads, size_t num_kv_heads, size_t head_dim, const void *k_pool,
                                        size_t k_bytes, const void *v_pool, size_t v_bytes,
                                        const uint32_t *block_table, size_t table_bytes, size_t block_size,
                                        size_t first_tokens, float scale, float *scratch, size_t scratch_bytes,
                                        float *out, size_t out_bytes, float *lse, size_t lse_bytes) {
  if (num_queries == 0) return 0;
  if (first_tokens == 0 || first_tokens > SIZE_MAX - num_queries) return LLMEM_EINVAL;
  const int e = paged_fit(format, num_queries, queries_bytes, num_heads, num_kv_heads, head_dim, k_bytes, v_bytes,
                          block_table, table_bytes, block_size, first_tokens + num_queries - 1, out_bytes,
                          lse_bytes);
  if (e) return e;
  /* The kernel uses whole slots of scratch_floats, at least one: every float it may touch is
   * inside scratch. */
  if (!fits(llmem_paged_attention_chunk_slot(num_queries, num_heads, head_dim, first_tokens), sizeof(float),
            scratch ? scratch_bytes : 0))
    return LLMEM_EBOUNDS;
  return llmem_paged_attention_chunk(format, queries, num_queries, num_heads, num_kv_heads, head_dim, k_pool, v_pool,
                                     block_table, block_size, first_tokens, scale, scratch,
                                     scratch ? scratch_bytes / sizeof(float) : 0, out, lse);
}
