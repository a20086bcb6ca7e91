/* Off macOS there is no Metal: the quant-kernels Metal entry points report "unavailable" (-1)
 * and the binding keeps using the CPU paths. The real ones are in src/metal/quant.m. */
#include "internal.h"

#ifndef __APPLE__
int llmem_metal_dequantize(int format, const void *src, float *dst, size_t n) {
  (void)format, (void)src, (void)dst, (void)n;
  return -1;
}

int llmem_metal_matvec(int format, const void *w, size_t rows, size_t cols, const float *x, float *y) {
  (void)format, (void)w, (void)rows, (void)cols, (void)x, (void)y;
  return -1;
}
#endif
