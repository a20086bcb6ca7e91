/* The format table and the ISA kernel table (formats.c): what libllmem knows about each storage
 * format, and which kernel every format and every format-free operation runs on this CPU.
 * Modelled on ggml's type_traits / type_traits_cpu. Internal to libllmem.
 *
 * Kernels are chosen ONCE: at load (a constructor) and again by llmem_set_isa, which copy the
 * active ISA's kernels into llmem_format_kernels_active / llmem_isa_kernels_active. A call site
 * reads one function pointer from them; nothing else reads the ISA. */
#ifndef LLMEM_FORMATS_H
#define LLMEM_FORMATS_H

#include "internal.h"

#define LLMEM_ISA_COUNT 3
#define LLMEM_FORMAT_COUNT 17 /* rows of the table: enum llmem_format 0..COUNT-1 */

/* n values of a row of the format (n a multiple of its block size). */
typedef void (*llmem_from_float_fn)(const float *x, void *y, size_t n);
typedef void (*llmem_to_float_fn)(const void *x, float *y, size_t n);
/* A row of the format · a row of its vec_dot format, n values. */
typedef float (*llmem_vec_dot_fn)(const void *x, const void *y, size_t n);

/* The kernels of one format on one ISA. NULL: this ISA has no path of its own (the scalar one runs). */
typedef struct {
  llmem_from_float_fn from_float;
  llmem_to_float_fn to_float;
  llmem_vec_dot_fn vec_dot;
} llmem_format_kernels;

typedef struct {
  const char *name;
  int block_size;         /* values per block (1 for f32/f16/bf16) */
  size_t block_bytes;     /* bytes per block */
  int vec_dot_format;     /* the format vec_dot's second operand (the activation) is in; -1: no vec_dot */
  unsigned flags;         /* enum llmem_format_flag (llmem.h) */
  llmem_format_kernels isa[LLMEM_ISA_COUNT]; /* [LLMEM_ISA_SCALAR] is the reference and is complete */
} llmem_format_traits;

extern const llmem_format_traits llmem_formats[LLMEM_FORMAT_COUNT];
/* The active ISA's kernels per format, every entry the scalar row has filled in. */
extern llmem_format_kernels llmem_format_kernels_active[LLMEM_FORMAT_COUNT];

static inline int llmem_format_has(int format, unsigned flag) {
  return format >= 0 && format < LLMEM_FORMAT_COUNT && (llmem_formats[format].flags & flag) != 0;
}
/* A K/V row format, with head_dim a whole number of its blocks. */
static inline int llmem_row_format_ok(int format, size_t head_dim) {
  return llmem_format_has(format, LLMEM_FORMAT_ROW) && head_dim % (size_t)llmem_formats[format].block_size == 0;
}

/* ---- the format-free kernels, one set per ISA -------------------------------------------- */
typedef struct {
  const uint8_t *w;
  size_t rows, cols, row_bytes, chunk;
  const float *x;
  const uint8_t *xq; /* x in the format's vec_dot format (NULL when that is f32) */
  const float *xd;   /* x's Q8_0 block scales as f32 (when the vec_dot format is Q8_0) */
  float *y;
  int format;
  int streams; /* W is too big to stay cached: one block row at a time, prefetched */
} llmem_matvec_job;

/* A chunk of n tokens: Y[t][r] = W[r] · X[t] (quant/matmul.c). */
typedef struct {
  const uint8_t *w;
  size_t rows, cols, row_bytes, chunk;
  const float *x; /* n × cols */
  size_t n;
  const uint8_t *xq; /* token t's x in the vec_dot format at xq + t*xq_stride (NULL when that is f32) */
  size_t xq_stride;
  const float *xd; /* token t's Q8_0 block scales as f32 at xd + t*xd_stride */
  size_t xd_stride;
  /* token t's Q8_0 half-block sums at xs + t*xs_stride: [2b] = Σ of block b's values 0..15, [2b+1]
   * of 16..31 (the transposed tile's o·Σx terms); NULL unless the vec_dot format is Q8_0 */
  const int32_t *xs;
  size_t xs_stride;
  float *y; /* n × rows */
  int format;
} llmem_matmul_job;

struct kv_q4_ops; /* paged/kv_quant.c: the refined 4-bit encoder's vector kernels */
struct kv_chunk_job; /* paged/kv_rows.h: a prefill chunk's causal attention */

typedef struct {
  uint64_t (*read_bytes)(const uint8_t *p, size_t bytes);
  uint64_t (*hash64)(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p);
  void (*hash64_chain)(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e, const uint32_t *o, uint64_t p,
                       uint32_t *out);
  /* Rows at row + t*stride_bytes, t < count (format already checked). */
  void (*attn_scores)(int format, const float *query, const uint8_t *row, size_t stride_bytes, size_t count,
                      size_t head_dim, float scale, float *out);
  void (*attn_weighted_sum)(int format, const float *weights, const uint8_t *row, size_t stride_bytes, size_t count,
                            size_t head_dim, float *out);
  void (*kv_scores)(int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows, size_t row_bytes,
                    size_t n, float scale, float *out, size_t out_stride, float *tmp);
  void (*kv_weighted_rows)(const float *rows, size_t stride, const float *w, size_t n, float *out, size_t head_dim);
  void (*kv_weighted_rows_f16)(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,
                               size_t head_dim);
  float (*kv_softmax)(float *s, size_t n);
  /* Queries [i0, i0+nq) of a prefill chunk's attention (paged/kv_chunk_queries.c). */
  void (*kv_chunk_queries)(const struct kv_chunk_job *j, size_t i0, size_t nq, float *scratch);
  const struct kv_q4_ops *kv_q4;
  /* Rows [r0, r1) of a matvec. */
  void (*matvec_range)(const llmem_matvec_job *j, size_t r0, size_t r1);
  /* Rows [r0, r1) of a matmul, every token. */
  void (*matmul_range)(const llmem_matmul_job *j, size_t r0, size_t r1);
  /* gate[i] = silu(gate[i]) · up[i] for i in [i0, i1) (kernels/rows.c; style checked). */
  void (*swiglu_range)(int style, float *gate, const float *up, size_t i0, size_t i1);
  /* A row of nb Q8_0 blocks: per block, the sums of its values 0..15 and 16..31 (xs[2b], xs[2b+1];
   * quant/matmul.c, the transposed tile's o·Σx terms). */
  void (*q8_0_half_sums)(const uint8_t *xq, size_t nb, int32_t *xs);
} llmem_isa_kernels;

extern llmem_isa_kernels llmem_isa_kernels_active;

/* Copies ISA `isa`'s kernels into the active tables (formats.c; called at load and by llmem_set_isa). */
void llmem_select_kernels(int isa);
/* 1 when the CPU (and OS) have AVX-512 VNNI + VL (cpu.c). */
int llmem_cpu_has_vnni(void);
/* Whether the AVX2 ISA takes its VNNI kernels when the CPU has them (default 1); tests turn it
 * off to check both paths give the same bits. Re-selects the active kernels. Returns 0, or -1
 * (nothing changed) when asked for VNNI on a CPU without it. Internal: not in llmem.h. */
int llmem_use_vnni(int on);

/* ---- the kernels the tables name (each defined beside its scalar reference) --------------- */
#define LLMEM_DECLARE_PER_ISA(decl) decl(scalar) decl(avx2) decl(neon)
#define LLMEM_FROM_FLOAT(name, isa) void name##_##isa(const float *x, void *y, size_t n);
#define LLMEM_TO_FLOAT(name, isa) void name##_##isa(const void *x, float *y, size_t n);
#define LLMEM_VEC_DOT(name, isa) float name##_##isa(const void *x, const void *y, size_t n);
#define LLMEM_FORMAT_DECLS(isa)                                                                                   \
  LLMEM_VEC_DOT(dot_f32, isa)                                                                                     \
  LLMEM_FROM_FLOAT(f32_to_f16, isa) LLMEM_TO_FLOAT(f16_to_f32, isa) LLMEM_VEC_DOT(dot_f16_f32, isa)               \
  LLMEM_FROM_FLOAT(f32_to_bf16, isa) LLMEM_TO_FLOAT(bf16_to_f32, isa)                                             \
  LLMEM_FROM_FLOAT(quantize_q8_0, isa) LLMEM_TO_FLOAT(dequantize_q8_0, isa) LLMEM_VEC_DOT(dot_q8_0_q8_0, isa)      \
  LLMEM_FROM_FLOAT(quantize_q4_0, isa) LLMEM_TO_FLOAT(dequantize_q4_0, isa) LLMEM_VEC_DOT(dot_q4_0_q8_0, isa)      \
  LLMEM_FROM_FLOAT(quantize_q4_1, isa) LLMEM_TO_FLOAT(dequantize_q4_1, isa) LLMEM_VEC_DOT(dot_q4_1_q8_1, isa)      \
  LLMEM_FROM_FLOAT(quantize_q8_1, isa) LLMEM_TO_FLOAT(dequantize_q8_1, isa)                                        \
  uint64_t read_bytes_##isa(const uint8_t *p, size_t bytes);                                                      \
  uint64_t lh64_block_##isa(const uint32_t *t, size_t n, const uint32_t *e, size_t m, uint64_t p);                \
  void lh64_chain_##isa(const uint32_t *t, size_t bs, size_t nb, const uint32_t *e, const uint32_t *o, uint64_t p, \
                        uint32_t *out);                                                                           \
  void attn_scores_##isa(int format, const float *query, const uint8_t *row, size_t stride_bytes, size_t count,   \
                         size_t head_dim, float scale, float *out);                                               \
  void attn_weighted_sum_##isa(int format, const float *weights, const uint8_t *row, size_t stride_bytes,         \
                               size_t count, size_t head_dim, float *out);                                        \
  void kv_scores_##isa(int format, const float *q, size_t group, size_t head_dim, const uint8_t *rows,         \
                       size_t row_bytes, size_t n, float scale, float *out, size_t out_stride, float *tmp);        \
  void kv_weighted_rows_##isa(const float *rows, size_t stride, const float *w, size_t n, float *out,             \
                              size_t head_dim);                                                                   \
  void kv_weighted_rows_f16_##isa(const uint16_t *rows, size_t stride, const float *w, size_t n, float *out,    \
                                  size_t head_dim);                                                               \
  float kv_softmax_##isa(float *s, size_t n);                                                                     \
  void kv_chunk_queries_##isa(const struct kv_chunk_job *j, size_t i0, size_t nq, float *scratch);             \
  void swiglu_range_##isa(int style, float *gate, const float *up, size_t i0, size_t i1);                        \
  void q8_0_half_sums_##isa(const uint8_t *xq, size_t nb, int32_t *xs);                                        \
  extern const struct kv_q4_ops kv_q4_ops_##isa;
LLMEM_DECLARE_PER_ISA(LLMEM_FORMAT_DECLS)
/* The K-quants (src/quant/q8_k.c, q4_k.c, q5_k.c, q6_k.c). Q4_K/Q6_K quantize only in the scalar
 * reference: it is an iterative fit run once per weight file, never in the decode loop. */
#define LLMEM_KQUANT_DECLS(isa)                                                                 \
  LLMEM_FROM_FLOAT(quantize_q8_k, isa) LLMEM_TO_FLOAT(dequantize_q8_k, isa)                      \
  LLMEM_TO_FLOAT(dequantize_q4_k, isa) LLMEM_VEC_DOT(dot_q4_k_q8_k, isa)                         \
  LLMEM_TO_FLOAT(dequantize_q6_k, isa) LLMEM_VEC_DOT(dot_q6_k_q8_k, isa)                         \
  LLMEM_TO_FLOAT(dequantize_q5_k, isa) LLMEM_VEC_DOT(dot_q5_k_q8_k, isa)
LLMEM_DECLARE_PER_ISA(LLMEM_KQUANT_DECLS)
/* Q5_0 / Q5_1 (src/quant/q5.c): quantize in the scalar reference only, as the K-quants. */
#define LLMEM_Q5_DECLS(isa)                                                                     \
  LLMEM_TO_FLOAT(dequantize_q5_0, isa) LLMEM_VEC_DOT(dot_q5_0_q8_0, isa)                         \
  LLMEM_TO_FLOAT(dequantize_q5_1, isa) LLMEM_VEC_DOT(dot_q5_1_q8_1, isa)
LLMEM_DECLARE_PER_ISA(LLMEM_Q5_DECLS)
/* IQ4_NL and IQ4_XS (src/quant/iq4.c): quantize in the scalar reference only, as Q5_0. */
#define LLMEM_IQ4_DECLS(isa)                                                                    \
  LLMEM_TO_FLOAT(dequantize_iq4_nl, isa) LLMEM_VEC_DOT(dot_iq4_nl_q8_0, isa)                     \
  LLMEM_TO_FLOAT(dequantize_iq4_xs, isa) LLMEM_VEC_DOT(dot_iq4_xs_q8_k, isa)
LLMEM_DECLARE_PER_ISA(LLMEM_IQ4_DECLS)
LLMEM_FROM_FLOAT(quantize_iq4_nl, scalar)
LLMEM_FROM_FLOAT(quantize_iq4_xs, scalar)
/* Q2_K and Q3_K (src/quant/q2_k.c, q3_k.c): quantize in the scalar reference only, as the other
 * K-quants. */
#define LLMEM_Q2_3_K_DECLS(isa)                                                                  \
  LLMEM_TO_FLOAT(dequantize_q2_k, isa) LLMEM_VEC_DOT(dot_q2_k_q8_k, isa)                         \
  LLMEM_TO_FLOAT(dequantize_q3_k, isa) LLMEM_VEC_DOT(dot_q3_k_q8_k, isa)
LLMEM_DECLARE_PER_ISA(LLMEM_Q2_3_K_DECLS)
LLMEM_FROM_FLOAT(quantize_q2_k, scalar)
LLMEM_FROM_FLOAT(quantize_q3_k, scalar)
LLMEM_FROM_FLOAT(quantize_q5_0, scalar)
LLMEM_FROM_FLOAT(quantize_q5_1, scalar)
LLMEM_FROM_FLOAT(quantize_q4_k, scalar)
LLMEM_FROM_FLOAT(quantize_q6_k, scalar)
LLMEM_FROM_FLOAT(quantize_q5_k, scalar)
void matvec_range_generic(const llmem_matvec_job *j, size_t r0, size_t r1);
void matvec_range_avx2(const llmem_matvec_job *j, size_t r0, size_t r1);
void matvec_range_avx2_vnni(const llmem_matvec_job *j, size_t r0, size_t r1);
/* The NEON four-row matvec and 4×4 matmul tiles (quant/matmul_neon.c). */
void matvec_range_neon(const llmem_matvec_job *j, size_t r0, size_t r1);
void matmul_range_neon(const llmem_matmul_job *j, size_t r0, size_t r1);
/* Rows [r0, r1) of a Q4_K / Q6_K matrix against n Q8_K tokens on NEON: 4 rows × 1 token (matvec)
 * or × 2 tokens (matmul) per tile, each result bit for bit the format's NEON vec_dot (quant/q4_k.c,
 * q6_k.c; arguments as matmul_rows_q4_k_avx2's). */
void rows_q4_k_neon(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t xq_stride,
                    size_t n, size_t cols, float *y, size_t y_stride);
void rows_q6_k_neon(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t xq_stride,
                    size_t n, size_t cols, float *y, size_t y_stride);
/* Rows [r0, r1) of a Q4_K matrix against x in Q8_K, four rows per pass (quant/q4_k.c). */
void matvec_rows_q4_k_avx2(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t cols,
                           float *y);
/* The same for Q6_K rows (quant/q6_k.c). */
void matvec_rows_q6_k_avx2(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t cols,
                           float *y);
/* The same for IQ4_XS (quant/iq4.c). */
void matvec_rows_iq4_xs_avx2(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq, size_t cols,
                             float *y);
/* Rows [r0, r1) of a Q4_K / Q6_K matrix against n Q8_K tokens (token t at xq + t*xq_stride,
 * its results at y + t*y_stride): tiles of 4 rows × several tokens, each result bit for bit the
 * matvec four-row pass's (quant/q4_k.c, q6_k.c; matmul). */
void matmul_rows_q4_k_avx2(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq,
                           size_t xq_stride, size_t n, size_t cols, float *y, size_t y_stride);
/* matmul_rows_q4_k_avx2 with AVX-512 VNNI (8-row transposed tiles, same bits; quant/q4_k.c). */
void matmul_rows_q4_k_vnni(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq,
                           size_t xq_stride, size_t n, size_t cols, float *y, size_t y_stride);
void matmul_rows_q6_k_avx2(const uint8_t *w, size_t row_bytes, size_t r0, size_t r1, const uint8_t *xq,
                           size_t xq_stride, size_t n, size_t cols, float *y, size_t y_stride);
void matmul_range_generic(const llmem_matmul_job *j, size_t r0, size_t r1);
void matmul_range_avx2(const llmem_matmul_job *j, size_t r0, size_t r1);
void matmul_range_avx2_vnni(const llmem_matmul_job *j, size_t r0, size_t r1);

#endif
