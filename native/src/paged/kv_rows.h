/* What the paged-attention kernel needs per row: decode to f32 (quant-kernels' converters and
 * dequantizers, each with its own dispatch point), f32 dot (the foundation's) and axpy, here
 * with its scalar reference beside the AVX2 and NEON paths. Internal to libllmem. */
#ifndef LLMEM_PAGED_KV_ROWS_H
#define LLMEM_PAGED_KV_ROWS_H

#include <string.h>

#include "../internal.h"

/* Decodes one row of n values (n a multiple of 32 for block formats) into dst. */
void kv_decode_row(int format, const uint8_t *row, float *dst, size_t n);

/* y += w * x, per ISA. */
typedef void (*kv_axpy_fn)(float w, const float *x, float *y, size_t n);
void kv_axpy_scalar(float w, const float *x, float *y, size_t n);
#if LLMEM_X86
void kv_axpy_avx2(float w, const float *x, float *y, size_t n);
#endif
#if LLMEM_ARM
void kv_axpy_neon(float w, const float *x, float *y, size_t n);
#endif

/* In place s[i] = exp(s[i] - max) / Σ; returns max + log Σ (the log-sum-exp). */
typedef float (*kv_softmax_fn)(float *s, size_t n);
float kv_softmax_scalar(float *s, size_t n);
#if LLMEM_X86
float kv_softmax_avx2(float *s, size_t n);
#endif
#if LLMEM_ARM
float kv_softmax_neon(float *s, size_t n);
#endif

#endif
