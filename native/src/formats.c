/* THE FORMAT TABLE: one row per storage format (enum llmem_format in include/llmem.h), in the
 * manner of ggml's type_traits: its name, block geometry, the format its dot product pairs with,
 * what it is accepted for, and its kernels per ISA. Plus the table of format-free kernels per
 * ISA, and the one place kernels are chosen (at load, and again by llmem_set_isa).
 *
 * HOW TO ADD A FORMAT (e.g. q5_0):
 *   1. include/llmem.h: a new LLMEM_<NAME> = next id in enum llmem_format; formats.h: bump
 *      LLMEM_FORMAT_COUNT.
 *   2. Its kernels in their own file (src/quant/q5_0.c): quantize_q5_0_scalar (the reference),
 *      dequantize_q5_0_scalar, dot_q5_0_<vec_dot format>_scalar, and any _avx2 / _neon paths,
 *      with the LLMEM_FROM_FLOAT / LLMEM_TO_FLOAT / LLMEM_VEC_DOT signatures of formats.h
 *      (declare them there, in LLMEM_FORMAT_DECLS or beside it).
 *   3. One row below: name, block_size, block_bytes, vec_dot_format, flags, and its kernels per
 *      ISA (AVX2(...) / NEON(...) for SIMD paths; a NULL entry falls back to the scalar one).
 *      llmem_quantize/llmem_dequantize, llmem_matvec (generic vec_dot path) and, with
 *      LLMEM_FORMAT_ROW, the attention kernels (which decode rows themselves: add a case there)
 *      then accept it.
 *   4. One row in packages/core/src/formats.ts (same id, name, geometry, flags); the test
 *      packages/native/test/formats.test.ts checks the two tables agree row by row.
 *   5. Tests: native/test/test_quant.c (reference vs SIMD paths, round trip), the TS reference
 *      in packages/quant-kernels (native on and off).
 */
#include "formats.h"

#if LLMEM_X86
#define AVX2(f) f
#else
#define AVX2(f) NULL
#endif
#if LLMEM_ARM
#define NEON(f) f
#else
#define NEON(f) NULL
#endif
/* One format's kernels on every ISA: from_float, to_float, vec_dot name prefixes (NULL: none). */
#define KERNELS(from, to, dot)                                                                    \
  {                                                                                                \
    [LLMEM_ISA_SCALAR] = {from##_scalar, to##_scalar, dot##_scalar},                              \
    [LLMEM_ISA_AVX2] = {AVX2(from##_avx2), AVX2(to##_avx2), AVX2(dot##_avx2)},                    \
    [LLMEM_ISA_NEON] = {NEON(from##_neon), NEON(to##_neon), NEON(dot##_neon)},                    \
  }
#define KERNELS_NO_DOT(from, to)                                                                  \
  {                                                                                                \
    [LLMEM_ISA_SCALAR] = {from##_scalar, to##_scalar, NULL},                                      \
    [LLMEM_ISA_AVX2] = {AVX2(from##_avx2), AVX2(to##_avx2), NULL},                                \
    [LLMEM_ISA_NEON] = {NEON(from##_neon), NEON(to##_neon), NULL},                                \
  }

/* A format whose quantizer has only the scalar reference (the SIMD ISAs fall back to it). */
#define KERNELS_SCALAR_FROM(from, to, dot)                                                        \
  {                                                                                                \
    [LLMEM_ISA_SCALAR] = {from##_scalar, to##_scalar, dot##_scalar},                              \
    [LLMEM_ISA_AVX2] = {NULL, AVX2(to##_avx2), AVX2(dot##_avx2)},                                 \
    [LLMEM_ISA_NEON] = {NULL, NEON(to##_neon), NEON(dot##_neon)},                                 \
  }

enum { Q = LLMEM_FORMAT_QUANT, R = LLMEM_FORMAT_ROW, M = LLMEM_FORMAT_MATRIX };

const llmem_format_traits llmem_formats[LLMEM_FORMAT_COUNT] = {
    /* f32 needs no conversion (from/to float stay NULL: a copy); its vec_dot is llmem_dot_f32. */
    [LLMEM_F32] = {"f32", 1, 4, LLMEM_F32, R | M,
                   {[LLMEM_ISA_SCALAR] = {NULL, NULL, dot_f32_scalar},
                    [LLMEM_ISA_AVX2] = {NULL, NULL, AVX2(dot_f32_avx2)},
                    [LLMEM_ISA_NEON] = {NULL, NULL, NEON(dot_f32_neon)}}},
    [LLMEM_F16] = {"f16", 1, 2, LLMEM_F32, R | M, KERNELS(f32_to_f16, f16_to_f32, dot_f16_f32)},
    [LLMEM_BF16] = {"bf16", 1, 2, -1, R, KERNELS_NO_DOT(f32_to_bf16, bf16_to_f32)},
    [LLMEM_Q8_0] = {"q8_0", 32, 34, LLMEM_Q8_0, Q | R | M, KERNELS(quantize_q8_0, dequantize_q8_0, dot_q8_0_q8_0)},
    [LLMEM_Q4_0] = {"q4_0", 32, 18, LLMEM_Q8_0, Q | R | M, KERNELS(quantize_q4_0, dequantize_q4_0, dot_q4_0_q8_0)},
    [LLMEM_Q4_1] = {"q4_1", 32, 20, LLMEM_Q8_1, Q | R, KERNELS(quantize_q4_1, dequantize_q4_1, dot_q4_1_q8_1)},
    /* The activation side of q4_1 dots: quantized to, never dotted as the row. */
    [LLMEM_Q8_1] = {"q8_1", 32, 36, -1, Q, KERNELS_NO_DOT(quantize_q8_1, dequantize_q8_1)},
    /* The K-quants (named as GGML spells them). Q8_K is
     * the activation side of the K-quant dots, quantized to per matvec, never a weight row. */
    [LLMEM_Q8_K] = {"q8_K", 256, 292, -1, Q, KERNELS_NO_DOT(quantize_q8_k, dequantize_q8_k)},
    [LLMEM_Q4_K] = {"q4_K", 256, 144, LLMEM_Q8_K, Q | M, KERNELS_SCALAR_FROM(quantize_q4_k, dequantize_q4_k, dot_q4_k_q8_k)},
    [LLMEM_Q6_K] = {"q6_K", 256, 210, LLMEM_Q8_K, Q | M, KERNELS_SCALAR_FROM(quantize_q6_k, dequantize_q6_k, dot_q6_k_q8_k)},
    [LLMEM_Q5_0] = {"q5_0", 32, 22, LLMEM_Q8_0, Q | M, KERNELS_SCALAR_FROM(quantize_q5_0, dequantize_q5_0, dot_q5_0_q8_0)},
    [LLMEM_Q5_1] = {"q5_1", 32, 24, LLMEM_Q8_1, Q | M, KERNELS_SCALAR_FROM(quantize_q5_1, dequantize_q5_1, dot_q5_1_q8_1)},
    [LLMEM_Q5_K] = {"q5_K", 256, 176, LLMEM_Q8_K, Q | M, KERNELS_SCALAR_FROM(quantize_q5_k, dequantize_q5_k, dot_q5_k_q8_k)},
    [LLMEM_IQ4_NL] = {"iq4_nl", 32, 18, LLMEM_Q8_0, Q | M, KERNELS_SCALAR_FROM(quantize_iq4_nl, dequantize_iq4_nl, dot_iq4_nl_q8_0)},
    [LLMEM_IQ4_XS] = {"iq4_xs", 256, 136, LLMEM_Q8_K, Q | M, KERNELS_SCALAR_FROM(quantize_iq4_xs, dequantize_iq4_xs, dot_iq4_xs_q8_k)},
    [LLMEM_Q2_K] = {"q2_K", 256, 84, LLMEM_Q8_K, Q | M, KERNELS_SCALAR_FROM(quantize_q2_k, dequantize_q2_k, dot_q2_k_q8_k)},
    [LLMEM_Q3_K] = {"q3_K", 256, 110, LLMEM_Q8_K, Q | M, KERNELS_SCALAR_FROM(quantize_q3_k, dequantize_q3_k, dot_q3_k_q8_k)},
};

/* The format-free kernels per ISA (a NULL entry: the scalar one). */
#define ISA_KERNELS(isa, matvec, matmul)                                                                        \
  {read_bytes_##isa, lh64_block_##isa, lh64_chain_##isa, attn_scores_##isa, attn_weighted_sum_##isa,      \
   kv_scores_##isa, kv_weighted_rows_##isa, kv_weighted_rows_f16_##isa, kv_softmax_##isa, kv_chunk_queries_##isa, &kv_q4_ops_##isa, matvec, matmul, \
   swiglu_range_##isa, q8_0_half_sums_##isa}
/* NEON's chunk attention runs the one-query kernel per query (the scalar entry), and its Q8_0
 * half-block sums are the scalar loop's. */
#define kv_chunk_queries_neon NULL
#define q8_0_half_sums_neon NULL
static const llmem_isa_kernels ISA_KERNELS_TABLE[LLMEM_ISA_COUNT] = {
    [LLMEM_ISA_SCALAR] = ISA_KERNELS(scalar, matvec_range_generic, matmul_range_generic),
#if LLMEM_X86
    [LLMEM_ISA_AVX2] = ISA_KERNELS(avx2, matvec_range_avx2, matmul_range_avx2),
#endif
#if LLMEM_ARM
    [LLMEM_ISA_NEON] = ISA_KERNELS(neon, matvec_range_neon, matmul_range_neon),
#endif
};

llmem_format_kernels llmem_format_kernels_active[LLMEM_FORMAT_COUNT];
llmem_isa_kernels llmem_isa_kernels_active;

#define PICK(field) (chosen->field ? chosen->field : base->field)

/* The AVX2 ISA's VNNI kernels are taken when the CPU has them (llmem_use_vnni turns this off). */
static int vnni_wanted = 1;

void llmem_select_kernels(int isa) {
  if (isa < 0 || isa >= LLMEM_ISA_COUNT) isa = LLMEM_ISA_SCALAR;
  for (int f = 0; f < LLMEM_FORMAT_COUNT; f++) {
    const llmem_format_kernels *base = &llmem_formats[f].isa[LLMEM_ISA_SCALAR], *chosen = &llmem_formats[f].isa[isa];
    llmem_format_kernels_active[f] = (llmem_format_kernels){PICK(from_float), PICK(to_float), PICK(vec_dot)};
  }
  const llmem_isa_kernels *base = &ISA_KERNELS_TABLE[LLMEM_ISA_SCALAR], *chosen = &ISA_KERNELS_TABLE[isa];
  llmem_isa_kernels_active = (llmem_isa_kernels){
      PICK(read_bytes),   PICK(hash64),           PICK(hash64_chain), PICK(attn_scores), PICK(attn_weighted_sum),
      PICK(kv_scores),    PICK(kv_weighted_rows), PICK(kv_weighted_rows_f16), PICK(kv_softmax),   PICK(kv_chunk_queries), PICK(kv_q4),       PICK(matvec_range),
      PICK(matmul_range), PICK(swiglu_range), PICK(q8_0_half_sums)};
#if LLMEM_X86
  if (isa == LLMEM_ISA_AVX2 && vnni_wanted && llmem_cpu_has_vnni()) {
    llmem_isa_kernels_active.matvec_range = matvec_range_avx2_vnni;
    llmem_isa_kernels_active.matmul_range = matmul_range_avx2_vnni;
  }
#endif
}

int llmem_use_vnni(int on) {
  if (on && !llmem_cpu_has_vnni()) return -1;
  vnni_wanted = on != 0;
  llmem_select_kernels(llmem_active_isa());
  return 0;
}

/* At load, the best ISA this CPU has (the first of the two places that read it). */
__attribute__((constructor)) static void llmem_select_at_load(void) { llmem_select_kernels(llmem_active_isa()); }

/* ---- the table, described to the binding (packages/native/src/formats.ts checks against it) -- */
int llmem_format_count(void) { return LLMEM_FORMAT_COUNT; }

const char *llmem_format_name(int format) {
  return format >= 0 && format < LLMEM_FORMAT_COUNT ? llmem_formats[format].name : NULL;
}

int llmem_format_describe(int format, uint32_t out[LLMEM_FORMAT_FIELDS]) {
  if (format < 0 || format >= LLMEM_FORMAT_COUNT || !out) return -1;
  const llmem_format_traits *f = &llmem_formats[format];
  out[0] = (uint32_t)f->block_size;
  out[1] = (uint32_t)f->block_bytes;
  out[2] = (uint32_t)f->vec_dot_format; /* 0xffffffff: none */
  out[3] = f->flags;
  return 0;
}
