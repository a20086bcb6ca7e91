/*
 * libllmem: the native side of llmem (memory, quantization, attention/matvec, hashing).
 *
 * Every kernel has a scalar reference and SIMD paths (AVX2+FMA on x86-64, NEON on
 * AArch64), chosen once at load (and again by llmem_set_isa) from the format table in
 * src/formats.c.
 *
 * Two layers. The shared library exports only the BOUNDED entry points (LLMEM_API, at the end
 * of this header, named `..._checked`): beside every pointer they take the byte capacity of the
 * memory behind it and refuse (LLMEM_EBOUNDS) a call that would touch a byte outside it, before
 * touching anything. The bun:ffi binding validates first and passes the capacities the engine
 * measured, so these checks are defence in depth. The TRUSTED kernels (LLMEM_TRUSTED, not
 * exported from libllmem.so; linkable from the static archive by C tests and tools) take bare
 * pointers and trust their arguments, as C kernels must to stay fast.
 */
#ifndef LLMEM_H
#define LLMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLMEM_VERSION_MAJOR 0
#define LLMEM_VERSION_MINOR 1
#define LLMEM_VERSION_PATCH 0

#if defined(_WIN32)
#define LLMEM_API __declspec(dllexport)
#else
#define LLMEM_API __attribute__((visibility("default")))
#endif
/* Trusted kernels: hidden from the shared library (built with -fvisibility=hidden). */
#define LLMEM_TRUSTED

/* Return codes of the bounded entry points (0 = success). */
#define LLMEM_EINVAL (-1)  /* unsupported format, partial block, inconsistent geometry */
#define LLMEM_EBOUNDS (-2) /* a buffer is smaller than the call needs: nothing was touched */

/* ---- runtime / dispatch ------------------------------------------------ */

/* Instruction-set paths. A kernel runs the path of the active ISA. */
enum llmem_isa {
  LLMEM_ISA_SCALAR = 0,
  LLMEM_ISA_AVX2 = 1, /* AVX2 + FMA + F16C */
  LLMEM_ISA_NEON = 2,
};

LLMEM_API const char *llmem_version(void);
/* Best ISA this CPU supports (cpuid on x86-64). */
LLMEM_API int llmem_detect_isa(void);
/* ISA the kernels were chosen for (at load: the best one). */
LLMEM_API int llmem_active_isa(void);
/* Force an ISA (tests and benchmarks compare paths). Returns 0, or -1 if the CPU
 * or this build lacks it (the active ISA is then unchanged). */
LLMEM_API int llmem_set_isa(int isa);
LLMEM_API const char *llmem_isa_name(int isa);

/* ---- memory ------------------------------------------------------------ */

/* align must be a power of two >= sizeof(void*); returns NULL on failure or bytes == 0.
 * Memory is zeroed so a fresh buffer never exposes earlier contents. */
LLMEM_API void *llmem_alloc(size_t bytes, size_t align);
LLMEM_API void llmem_free(void *p);
/* JSTypedArrayBytesDeallocator-shaped free, for ArrayBuffers that own native memory. */
LLMEM_API void llmem_free_deallocator(void *bytes, void *ctx);
LLMEM_TRUSTED void llmem_zero(void *p, size_t bytes);
LLMEM_TRUSTED void llmem_copy(void *dst, const void *src, size_t bytes);
/* Live byte count of llmem_alloc'ed memory (for leak checks and memory reports). */
LLMEM_API uint64_t llmem_live_bytes(void);

/* ---- f32 kernels ------------------------------------------------------- */

LLMEM_TRUSTED float llmem_dot_f32(const float *a, const float *b, size_t n);

/* ---- quantization formats, dot products, matvec (quant-kernels) -------- */
/* (grown by the quant-kernels work: Q8_0/Q4_0/Q4_1/Q8_1, fp16/bf16, dot, matvec, threads) */
/* GGML-compatible block formats (32 values per block, little-endian fp16 scales):
 *   Q8_0 34 B { fp16 d; int8 qs[32] }              x = qs[i]*d
 *   Q4_0 18 B { fp16 d; uint8 qs[16] }             x = (nibble-8)*d, byte j: lo = x[j], hi = x[j+16]
 *   Q4_1 20 B { fp16 d; fp16 m; uint8 qs[16] }     x = nibble*d + m
 *   Q8_1 36 B { fp16 d; fp16 s = d*sum(qs); int8 qs[32] }  (activation side of Q4_1 dots)
 * Every path (scalar, AVX2, NEON, Metal) writes the same bytes as GGML's reference quantizer. */
enum llmem_format {
  LLMEM_F32 = 0,
  LLMEM_F16 = 1,
  LLMEM_BF16 = 2,
  LLMEM_Q8_0 = 3,
  LLMEM_Q4_0 = 4,
  LLMEM_Q4_1 = 5,
  LLMEM_Q8_1 = 6,
  /* GGML's K-quants: 256-value super-blocks (layouts in src/quant/k_quants.h). Q8_K (292 B) is the
   * activation side of their dots; Q4_K (144 B) and Q6_K (210 B) are weight formats. */
  LLMEM_Q8_K = 7,
  LLMEM_Q4_K = 8,
  LLMEM_Q6_K = 9,
  /* GGML's 5-bit formats (32 values): Q5_0 22 B { fp16 d; uint8 qh[4]; uint8 qs[16] }, dots with
   * Q8_0; Q5_1 24 B { fp16 d; fp16 m; uint8 qh[4]; uint8 qs[16] }, dots with Q8_1. */
  LLMEM_Q5_0 = 10,
  LLMEM_Q5_1 = 11,
  /* GGML's Q5_K (176 B): Q4_K plus a plane of fifth bits; a weight format, dots with Q8_K. */
  LLMEM_Q5_K = 12,
  /* GGML's 4-bit non-linear format (32 values): IQ4_NL 18 B { fp16 d; uint8 qs[16] }, each
   * nibble an index into a fixed table of 16 int8 levels; dots with Q8_0. */
  LLMEM_IQ4_NL = 13,
  /* GGML's IQ4_XS (256 values, 136 B): IQ4_NL's levels under 6-bit sub-block scales of 32
   * values { fp16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128] }; dots with Q8_K. */
  LLMEM_IQ4_XS = 14,
  /* GGML's Q2_K (84 B): 16 sub-blocks of 16 with 4-bit scales and mins, 2-bit levels; a weight
   * format, dots with Q8_K. */
  LLMEM_Q2_K = 15,
  /* GGML's Q3_K (110 B): 16 sub-blocks of 16 with signed 6-bit scales, 3-bit levels (2 bits plus
   * a high-bit plane); a weight format, dots with Q8_K. */
  LLMEM_Q3_K = 16,
};
#define LLMEM_QK 32

/* The format table (src/formats.c), described row by row so a binding can check its own copy
 * against it. Flags: which entry points accept a format. */
enum llmem_format_flag {
  LLMEM_FORMAT_QUANT = 1,  /* llmem_quantize / llmem_dequantize */
  LLMEM_FORMAT_ROW = 2,    /* K/V rows: llmem_attn_*, llmem_paged_attention, llmem_kv_row_bytes */
  LLMEM_FORMAT_MATRIX = 4, /* weight rows of llmem_matvec */
};
#define LLMEM_FORMAT_FIELDS 4
/* Rows in the table (formats 0 .. count-1). */
LLMEM_API int llmem_format_count(void);
/* A row's name ("q8_0"), or NULL past the table. */
LLMEM_API const char *llmem_format_name(int format);
/* out = { values per block, bytes per block, the format its dot pairs with (0xffffffff: none),
 * flags }; 0, or -1 past the table. */
LLMEM_API int llmem_format_describe(int format, uint32_t out[LLMEM_FORMAT_FIELDS]);

/* Round to nearest even; subnormals, signed zeros, infinities exact; NaN stays NaN (quieted). */
LLMEM_TRUSTED void llmem_f32_to_f16(const float *src, uint16_t *dst, size_t n);
LLMEM_TRUSTED void llmem_f16_to_f32(const uint16_t *src, float *dst, size_t n);
LLMEM_TRUSTED void llmem_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
LLMEM_TRUSTED void llmem_bf16_to_f32(const uint16_t *src, float *dst, size_t n);

/* n values (a multiple of 32) of a block format; 0, or -1 for another format or a partial block. */
LLMEM_TRUSTED int llmem_quantize(int format, const float *src, void *dst, size_t n);
LLMEM_TRUSTED int llmem_dequantize(int format, const void *src, float *dst, size_t n);

/* Dot products over n values (a multiple of 32 for the block pairs). */
LLMEM_TRUSTED float llmem_dot_q8_0_q8_0(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q4_0_q8_0(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q4_1_q8_1(const void *x, const void *y, size_t n);
/* The Q8_K pairs, n a multiple of 256: x Q2_K, Q3_K, Q4_K, Q5_K, Q6_K or IQ4_XS (weights), y Q8_K (activations). */
LLMEM_TRUSTED float llmem_dot_q2_k_q8_k(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q3_k_q8_k(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q4_k_q8_k(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q5_k_q8_k(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q6_k_q8_k(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q5_0_q8_0(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_q5_1_q8_1(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_iq4_nl_q8_0(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_iq4_xs_q8_k(const void *x, const void *y, size_t n);
LLMEM_TRUSTED float llmem_dot_f16_f32(const uint16_t *x, const float *y, size_t n);

/* y[r] = W[r]·x for a row-major W of a LLMEM_FORMAT_MATRIX format (F32, F16, Q8_0, Q4_0, Q4_K,
 * Q6_K, Q5_0, Q5_1, Q5_K, IQ4_NL, IQ4_XS, Q2_K, Q3_K). For a format whose dot pairs with a quantized x (its vec_dot format, llmem_format_describe),
 * x is converted into scratch first: cols/32 f32 block scales, then x in that format (Q8_0:
 * cols/32*38 bytes in all; Q8_K: cols/32*4 + cols/256*292), 4-byte aligned. Rows are split over
 * the thread pool.
 * Returns 0, or -1 for an unsupported format or cols. */
LLMEM_TRUSTED int llmem_matvec(int format, const void *w, size_t rows, size_t cols, const float *x, float *y,
                           void *scratch);
/* Batched prefill: Y[t][r] = W[r] · X[t] for n tokens (X n × cols, Y n × rows, row-major), the
 * formats of llmem_matvec. X is converted once per call into scratch, llmem_matmul_scratch_stride
 * bytes per token (0 when the format's dot pairs with f32 x: scratch may be NULL), each token
 * laid out as llmem_matvec's scratch; rows are split over the thread pool. Returns 0, or -1 for
 * an unsupported format or cols, or a missing scratch. */
LLMEM_TRUSTED int llmem_matmul(int format, const void *w, size_t rows, size_t cols, const float *x, size_t n, float *y,
                           void *scratch);
/* Matrices one llmem_matvec_parts / llmem_matmul_parts call takes at most. */
#define LLMEM_MATMUL_PARTS 3
/* llmem_matvec for up to LLMEM_MATMUL_PARTS matrices of one format and width that multiply the
 * same x (a layer's Q, K and V; its gate and up): x is converted once, and all their rows are one
 * pool job. Part k is W w[k] (rows[k] × cols) into y[k]; each y is exactly llmem_matvec's for
 * that part alone. Returns as llmem_matvec; -1 also for parts outside 1..3. */
LLMEM_TRUSTED int llmem_matvec_parts(int format, size_t cols, const float *x, void *scratch, size_t parts,
                                 const void *const w[], const size_t rows[], float *const y[]);
/* llmem_matmul for up to LLMEM_MATMUL_PARTS matrices of one format and width that multiply the
 * same X (a layer's Q, K and V; its gate and up): X is converted once, and all their rows are one
 * pool job. Part k is W w[k] (rows[k] × cols) into Y y[k] (n × rows[k]); each Y is exactly
 * llmem_matmul's for that part alone. Returns as llmem_matmul; -1 also for parts outside 1..3. */
LLMEM_TRUSTED int llmem_matmul_parts(int format, size_t cols, const float *x, size_t n, void *scratch, size_t parts,
                                 const void *const w[], const size_t rows[], float *const y[]);
/* Scratch bytes per token of llmem_matmul (a multiple of 64); 0 for f32/f16 or a non-matrix format. */
LLMEM_API size_t llmem_matmul_scratch_stride(int format, size_t cols);
/* Threads matvec uses (the caller plus n-1 pool workers), 1..64; 0 or -1 if threads cannot start. */
LLMEM_API int llmem_set_threads(int n);
LLMEM_API int llmem_get_threads(void);
/* Reads every byte once (the bandwidth baseline benchmarks compare matvec against). */
LLMEM_TRUSTED uint64_t llmem_read_bytes(const void *p, size_t bytes);

/* Metal versions (macOS; -1 elsewhere or without a device): same results as the CPU paths. */
LLMEM_TRUSTED int llmem_metal_dequantize(int format, const void *src, float *dst, size_t n);
LLMEM_TRUSTED int llmem_metal_matvec(int format, const void *w, size_t rows, size_t cols, const float *x, float *y);


/* ---- attention building blocks over quantized rows (quant-kernels) ------ */
/* Rows (F32, F16, BF16, Q8_0, Q4_0 or Q4_1) of head_dim values at base + offset_bytes + t*stride_bytes.
 * Quantized rows are decoded block by block in registers, never into an f32 copy.
 * scores: out[t] = scale * (query . row_t), t < count.
 * weighted sum: out[d] += sum_t weights[t] * row_t[d] (accumulates). Both return 0 or -1. */
LLMEM_TRUSTED int llmem_attn_scores(int format, const float *query, const void *base, size_t offset_bytes,
                                size_t stride_bytes, size_t count, size_t head_dim, float scale, float *out);
LLMEM_TRUSTED int llmem_attn_weighted_sum(int format, const float *weights, const void *base, size_t offset_bytes,
                                      size_t stride_bytes, size_t count, size_t head_dim, float *out);


/* ---- hashing (prefix-hash) ---------------------------------------------- */
/* LH64, the `fast` prefix-hash mode (spec: packages/prefix-hash/src/fast.ts and README).
 * One block: the message tokens[0..n_tokens) ++ extra[0..n_extra), chained to `parent`.
 * extra may be NULL when n_extra == 0. */
LLMEM_TRUSTED uint64_t llmem_hash64(const uint32_t *tokens, size_t n_tokens, const uint32_t *extra,
                                size_t n_extra, uint64_t parent);
/* A chain over n_blocks full blocks of block_size tokens: block i hashes its tokens, then
 * extra[extra_offsets[i] .. extra_offsets[i+1]) (no extra words when extra_offsets is NULL),
 * chained to block i-1's hash (block 0 to `parent`). Writes out[2i] = low, out[2i+1] = high
 * 32 bits of block i's hash (2 * n_blocks words). */
LLMEM_TRUSTED void llmem_hash64_chain(const uint32_t *tokens, size_t block_size, size_t n_blocks,
                                  const uint32_t *extra, const uint32_t *extra_offsets, uint64_t parent,
                                  uint32_t *out);


/* ---- element-wise steps over a chunk's rows (src/kernels/rows.c) --------- */
/* Bit for bit the decode example's TS steps (examples/decode/src/math.ts): f32 rounding where
 * it rounds, its summation order, e^x as a double exp rounded to f32. */
enum llmem_norm_style {
  LLMEM_NORM_RUNC = 0, /* llama2.c's run.c: f32 sums, eps 1e-5, silu as x * (1 / (1 + e^-x)) */
  LLMEM_NORM_GGML = 1, /* ggml: squares summed in double, eps given, silu as x / (1 + e^-x) */
};
/* rows × dim: out[t] = RMSNorm(x[t]) ⊙ weight (run.c: weight * (s * x); ggml: (x * s) * weight);
 * out may alias x. 0, or -1 for dim 0 or an unknown style. */
LLMEM_TRUSTED int llmem_rmsnorm_rows(int style, const float *x, const float *weight, size_t rows, size_t dim, float eps,
                                 float *out);
/* Rotates rows × width floats in place: in every head of head_size values, the first dims by
 * row t's angles cos/sin[t * table_stride + i] (i < dims/2), pairs (2i, 2i+1), or (i, i + dims/2)
 * with neox. 0, or -1 unless width % head_size == 0, dims even, dims <= head_size, dims/2 <= table_stride. */
LLMEM_TRUSTED int llmem_rope_rows(float *v, size_t rows, size_t width, size_t head_size, size_t dims, int neox,
                              const float *cos, const float *sin, size_t table_stride);
/* gate[i] = silu(gate[i]) * up[i], i < n (style as llmem_rmsnorm_rows). 0, or -1 for an unknown style. */
LLMEM_TRUSTED int llmem_swiglu(int style, float *gate, const float *up, size_t n);
/* x[i] += y[i], i < n. */
LLMEM_TRUSTED void llmem_add(float *x, const float *y, size_t n);

/* ---- paged attention (kv-cache) ----------------------------------------- */
/* KV pools hold rows in the formats of enum llmem_format above (F32, F16, BF16, Q8_0, Q4_0,
 * Q4_1): one row = head_dim values of one token and one KV head; block formats need
 * head_dim % 32 == 0. */

/* Bytes of one row of head_dim values in `format` (0 for an unknown format or a head_dim
 * a block format cannot split). */
LLMEM_API size_t llmem_kv_row_bytes(int format, size_t head_dim);

/* Encodes n values (a multiple of 32) as Q4_0 or Q4_1 blocks, each block's scale (and minimum)
 * chosen by an error-minimising search around the round-to-nearest one: ordinary GGML blocks
 * with a lower squared error. src must be finite. Returns 0, or -1 for another format or a
 * partial block. */
LLMEM_TRUSTED int llmem_kv_quantize_refined(int format, const float *src, void *dst, size_t n);

/* Grouped-query softmax attention of one sequence over num_tokens cached tokens stored in
 * blocks of block_size tokens: logical block i is physical block block_table[i] of the K and
 * V pools, laid out [block][token][kv_head][row]. query and out are [num_heads][head_dim]
 * (num_heads a multiple of num_kv_heads); lse[num_heads] receives each head's
 * log-sum-exp of its scores, so attention over several segments (e.g. tiers of different
 * formats) can be merged exactly. scratch holds num_tokens * num_heads + 32 * head_dim floats.
 * num_tokens == 0 writes zeros and lse = -inf. */
LLMEM_TRUSTED void llmem_paged_attention(int format, const float *query, size_t num_heads, size_t num_kv_heads,
                                     size_t head_dim, const void *k_pool, const void *v_pool,
                                     const uint32_t *block_table, size_t block_size, size_t num_tokens,
                                     float scale, float *scratch, float *out, float *lse);

/* Causal attention of a chunk of num_queries queries in one call: queries, out are
 * [num_queries][num_heads][head_dim] and lse [num_queries][num_heads]; query i attends over the
 * first first_tokens + i tokens (first_tokens >= 1), exactly as llmem_paged_attention would give
 * it alone (same bits). The table must cover first_tokens + num_queries - 1 tokens. scratch holds
 * scratch_floats floats, used in slots of llmem_paged_attention_chunk_slot floats (one per pool
 * task; one slot suffices, up to 4 per thread spread the queries over the thread pool).
 * Returns 0, or -1 (nothing written) for a bad shape, an unknown format or scratch below a slot. */
LLMEM_TRUSTED int llmem_paged_attention_chunk(int format, const float *queries, size_t num_queries, size_t num_heads,
                                          size_t num_kv_heads, size_t head_dim, const void *k_pool,
                                          const void *v_pool, const uint32_t *block_table, size_t block_size,
                                          size_t first_tokens, float scale, float *scratch, size_t scratch_floats,
                                          float *out, float *lse);
/* Floats of one scratch slot of llmem_paged_attention_chunk (0 for no queries). */
LLMEM_API size_t llmem_paged_attention_chunk_slot(size_t num_queries, size_t num_heads, size_t head_dim,
                                                  size_t first_tokens);



/* ---- Metal (macOS only; see src/metal/) ---------------------------------- */
/* Returns 1 if a Metal device is available (always 0 off macOS). */
LLMEM_API int llmem_metal_available(void);

/* Buffer pool support (src/metal/pool.m; off macOS src/pool_metal_stub.c fails every call:
 * NULL, 0 or -1). Buffers are opaque retained MTLBuffer handles with shared storage, so the
 * CPU sees their bytes at llmem_metal_buffer_contents for llmem_metal_buffer_length bytes. */
/* A zeroed shared-storage buffer of `bytes` on llmem's device, or NULL. */
LLMEM_API void *llmem_metal_buffer_new(uint64_t bytes);
LLMEM_API void llmem_metal_buffer_release(void *buffer);
LLMEM_API void *llmem_metal_buffer_contents(void *buffer);
LLMEM_API uint64_t llmem_metal_buffer_length(void *buffer);
/* 1 if the buffer lives on llmem's Metal device, 0 if on another one (or off macOS). */
LLMEM_API int llmem_metal_buffer_on_device(void *buffer);
/* 1 if [p, p + bytes) lies inside one live llmem_metal_buffer_new buffer (which Metal kernels
 * then read in place), else 0 (always 0 off macOS). */
LLMEM_API int llmem_metal_holds(const void *p, uint64_t bytes);
/* A residency set attached to llmem's command queue (macOS 15+), or NULL when the OS has
 * none or LLMEM_NO_RESIDENCY=1. Adds and removes take effect at the next commit. */
LLMEM_API void *llmem_metal_residency_new(void);
/* Ends residency, detaches the set from the queue and releases it. */
LLMEM_API void llmem_metal_residency_release(void *set);
/* 0 on success, -1 if the buffer is on another device or an argument is NULL. */
LLMEM_API int llmem_metal_residency_add(void *set, void *buffer);
LLMEM_API int llmem_metal_residency_remove(void *set, void *buffer);
LLMEM_API void llmem_metal_residency_commit(void *set);
LLMEM_API uint64_t llmem_metal_residency_count(void *set);

/* llmem_paged_attention on the GPU (src/metal/paged.m; -1 off macOS, without a device, or on
 * any Metal failure, so callers fall back to the CPU kernel). Same arguments, plus the pools'
 * byte lengths (every table entry must name a whole block of both pools, else -1). Pools
 * inside llmem Metal buffers (llmem_metal_holds) are read in place; other memory is gathered
 * block by block into a temporary buffer. No scratch: scores live in GPU memory. 0 on success. */
LLMEM_TRUSTED int llmem_metal_paged_attention(int format, const float *query, size_t num_heads, size_t num_kv_heads,
                                          size_t head_dim, const void *k_pool, size_t k_bytes, const void *v_pool,
                                          size_t v_bytes, const uint32_t *block_table, size_t block_size, size_t num_tokens,
                                          float scale, float *out, float *lse);


/* ---- bounded entry points (what libllmem.so exports) --------------------- */
/* Each is the trusted function without `_checked`, with a `*_bytes` capacity after every
 * pointer (the bytes the caller owns there). Functions returning int return 0, LLMEM_EINVAL or
 * LLMEM_EBOUNDS (or the trusted function's own -1); the void ones of the trusted layer return
 * int here. Functions returning a value return NaN (floats) or 0 (integers) when refused and
 * keep the code for llmem_last_error. A refused call touches no caller memory. */

/* The code of this thread's last refused value-returning call (0: none); reading clears it. */
LLMEM_API int llmem_last_error(void);

LLMEM_API int llmem_zero_checked(void *p, size_t p_bytes, size_t bytes);
LLMEM_API int llmem_copy_checked(void *dst, size_t dst_bytes, const void *src, size_t src_bytes, size_t bytes);
LLMEM_API uint64_t llmem_read_bytes_checked(const void *p, size_t p_bytes, size_t bytes);

LLMEM_API float llmem_dot_f32_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_f16_f32_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q8_0_q8_0_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q4_0_q8_0_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q4_1_q8_1_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q2_k_q8_k_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q3_k_q8_k_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q4_k_q8_k_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q5_k_q8_k_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q6_k_q8_k_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q5_0_q8_0_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_q5_1_q8_1_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_iq4_nl_q8_0_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);
LLMEM_API float llmem_dot_iq4_xs_q8_k_checked(const void *x, uint32_t x_bytes, const void *y, uint32_t y_bytes, uint32_t n);

LLMEM_API int llmem_f32_to_f16_checked(const float *src, size_t src_bytes, uint16_t *dst, size_t dst_bytes, size_t n);
LLMEM_API int llmem_f16_to_f32_checked(const uint16_t *src, size_t src_bytes, float *dst, size_t dst_bytes, size_t n);
LLMEM_API int llmem_f32_to_bf16_checked(const float *src, size_t src_bytes, uint16_t *dst, size_t dst_bytes, size_t n);
LLMEM_API int llmem_bf16_to_f32_checked(const uint16_t *src, size_t src_bytes, float *dst, size_t dst_bytes, size_t n);
LLMEM_API int llmem_quantize_checked(int format, const float *src, size_t src_bytes, void *dst, size_t dst_bytes,
                                     size_t n);
LLMEM_API int llmem_dequantize_checked(int format, const void *src, size_t src_bytes, float *dst, size_t dst_bytes,
                                       size_t n);
LLMEM_API int llmem_kv_quantize_refined_checked(int format, const float *src, size_t src_bytes, void *dst,
                                                size_t dst_bytes, size_t n);
LLMEM_API int llmem_metal_dequantize_checked(int format, const void *src, size_t src_bytes, float *dst,
                                             size_t dst_bytes, size_t n);

/* scratch: llmem_matvec's (cols/32*4 + x in the vec_dot format; 0 bytes for f32/f16); matmul's
 * n * llmem_matmul_scratch_stride. */
/* matvec takes 32-bit sizes beside w's (decode calls it ~50 times per token; each u64 argument
 * costs bun:ffi ~3 ns more than a u32): the binding clamps capacities, which only makes the
 * checks stricter. */
LLMEM_API int llmem_matvec_checked(int format, const void *w, size_t w_bytes, uint32_t rows, uint32_t cols,
                                   const float *x, uint32_t x_bytes, float *y, uint32_t y_bytes, void *scratch,
                                   uint32_t scratch_bytes);
LLMEM_API int llmem_matmul_checked(int format, const void *w, size_t w_bytes, size_t rows, size_t cols,
                                   const float *x, size_t x_bytes, size_t n, float *y, size_t y_bytes,
                                   void *scratch, size_t scratch_bytes);
/* llmem_matvec_parts with each part's bounds (32-bit sizes beside W's, as llmem_matvec_checked):
 * part k is used when w_k is not NULL (parts 0..k-1 must be used too). */
LLMEM_API int llmem_matvec3_checked(int format, uint32_t cols, const float *x, uint32_t x_bytes, void *scratch,
                                    uint32_t scratch_bytes, const void *w0, size_t w0_bytes, uint32_t rows0, float *y0,
                                    uint32_t y0_bytes, const void *w1, size_t w1_bytes, uint32_t rows1, float *y1,
                                    uint32_t y1_bytes, const void *w2, size_t w2_bytes, uint32_t rows2, float *y2,
                                    uint32_t y2_bytes);
/* llmem_matmul_parts with each part's bounds: part k is used when w_k is not NULL (parts 0..k-1
 * must be used too); its W holds w_k_bytes, its Y y_k_bytes. */
LLMEM_API int llmem_matmul3_checked(int format, size_t cols, const float *x, size_t x_bytes, size_t n, void *scratch,
                                    size_t scratch_bytes, const void *w0, size_t w0_bytes, size_t rows0, float *y0,
                                    size_t y0_bytes, const void *w1, size_t w1_bytes, size_t rows1, float *y1,
                                    size_t y1_bytes, const void *w2, size_t w2_bytes, size_t rows2, float *y2,
                                    size_t y2_bytes);
LLMEM_API int llmem_metal_matvec_checked(int format, const void *w, size_t w_bytes, size_t rows, size_t cols,
                                         const float *x, size_t x_bytes, float *y, size_t y_bytes);

/* base_bytes bounds offset_bytes + (count-1)*stride_bytes + one row. The rows' sizes are size_t
 * (a KV array may pass 4 GiB); the vectors' capacities, count and head_dim are 32-bit, as matvec's
 * (called per head and KV block; each u64 argument costs bun:ffi ~3 ns more than a u32): the
 * binding clamps capacities, which only makes the checks stricter. */
LLMEM_API int llmem_attn_scores_checked(int format, const float *query, uint32_t query_bytes, const void *base,
                                        size_t base_bytes, size_t offset_bytes, size_t stride_bytes, uint32_t count,
                                        uint32_t head_dim, float scale, float *out, uint32_t out_bytes);
LLMEM_API int llmem_attn_weighted_sum_checked(int format, const float *weights, uint32_t weights_bytes,
                                              const void *base, size_t base_bytes, size_t offset_bytes,
                                              size_t stride_bytes, uint32_t count, uint32_t head_dim, float *out,
                                              uint32_t out_bytes);

/* Element-wise rows: x/out rows*dim floats, weight dim; rope: v rows*width, cos/sin reach
 * (rows-1)*table_stride + dims/2 floats; swiglu/add: n floats each. */
LLMEM_API int llmem_rmsnorm_rows_checked(int style, const float *x, size_t x_bytes, const float *weight,
                                         size_t weight_bytes, size_t rows, size_t dim, float eps, float *out,
                                         size_t out_bytes);
LLMEM_API int llmem_rope_rows_checked(float *v, size_t v_bytes, size_t rows, size_t width, size_t head_size,
                                      size_t dims, int neox, const float *cos, size_t cos_bytes, const float *sin,
                                      size_t sin_bytes, size_t table_stride);
LLMEM_API int llmem_swiglu_checked(int style, float *gate, size_t gate_bytes, const float *up, size_t up_bytes,
                                   size_t n);
LLMEM_API int llmem_add_checked(float *x, size_t x_bytes, const float *y, size_t y_bytes, size_t n);

LLMEM_API uint64_t llmem_hash64_checked(const uint32_t *tokens, size_t tokens_bytes, size_t n_tokens,
                                        const uint32_t *extra, size_t extra_bytes, size_t n_extra, uint64_t parent);
/* extra_offsets (NULL: none) must not decrease (else LLMEM_EINVAL); its last entry bounds extra. */
LLMEM_API int llmem_hash64_chain_checked(const uint32_t *tokens, size_t tokens_bytes, size_t block_size,
                                         size_t n_blocks, const uint32_t *extra, size_t extra_bytes,
                                         const uint32_t *extra_offsets, size_t offsets_bytes, uint64_t parent,
                                         uint32_t *out, size_t out_bytes);

/* Every table entry of the num_tokens used must name a whole block inside both pools. */
LLMEM_API int llmem_paged_attention_checked(int format, const float *query, size_t query_bytes, size_t num_heads,
                                            size_t num_kv_heads, size_t head_dim, const void *k_pool,
                                            size_t k_bytes, const void *v_pool, size_t v_bytes,
                                            const uint32_t *block_table, size_t table_bytes, size_t block_size,
                                            size_t num_tokens, float scale, float *scratch, size_t scratch_bytes,
                                            float *out, size_t out_bytes, float *lse, size_t lse_bytes);
/* scratch_bytes / 4 is the chunk kernel's scratch_floats. */
LLMEM_API int llmem_paged_attention_chunk_checked(int format, const float *queries, size_t queries_bytes,
                                                  size_t num_queries, size_t num_heads, size_t num_kv_heads,
                                                  size_t head_dim, const void *k_pool, size_t k_bytes,
                                                  const void *v_pool, size_t v_bytes, const uint32_t *block_table,
                                                  size_t table_bytes, size_t block_size, size_t first_tokens,
                                                  float scale, float *scratch, size_t scratch_bytes, float *out,
                                                  size_t out_bytes, float *lse, size_t lse_bytes);
LLMEM_API int llmem_metal_paged_attention_checked(int format, const float *query, size_t query_bytes,
                                                  size_t num_heads, size_t num_kv_heads, size_t head_dim,
                                                  const void *k_pool, size_t k_bytes, const void *v_pool,
                                                  size_t v_bytes, const uint32_t *block_table, size_t table_bytes,
                                                  size_t block_size, size_t num_tokens, float scale, float *out,
                                                  size_t out_bytes, float *lse, size_t lse_bytes);

#ifdef __cplusplus
}
#endif

#endif /* LLMEM_H */
