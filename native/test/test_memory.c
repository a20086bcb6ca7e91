#include "harness.h"

int main(void) {
  CHECK(llmem_alloc(0, 64) == NULL, "zero bytes gives NULL");
  CHECK(llmem_alloc(64, 3) == NULL, "non power-of-two alignment refused");
  CHECK(llmem_alloc(SIZE_MAX, 64) == NULL, "absurd size refused");
  const size_t aligns[] = {8, 16, 64, 128, 4096};
  for (size_t a = 0; a < 5; a++) {
    for (size_t n = 1; n < 5000; n = n * 3 + 1) {
      unsigned char *p = llmem_alloc(n, aligns[a]);
      CHECK(p != NULL, "alloc %zu", n);
      if (!p) continue;
      CHECK(((uintptr_t)p % aligns[a]) == 0, "aligned to %zu", aligns[a]);
      int zero = 1;
      for (size_t i = 0; i < n; i++) zero &= p[i] == 0;
      CHECK(zero, "zeroed");
      memset(p, 0xAB, n); /* the whole range is writable (ASan checks it) */
      llmem_free(p);
    }
  }
  CHECK(llmem_live_bytes() == 0, "no live bytes left: %llu", (unsigned long long)llmem_live_bytes());
  char src[100], dst[100];
  for (int i = 0; i < 100; i++) src[i] = (char)i;
  llmem_copy(dst, src, 100);
  CHECK(memcmp(dst, src, 100) == 0, "copy");
  llmem_zero(dst, 100);
  CHECK(dst[0] == 0 && dst[99] == 0, "zero");
  return t_finish("memory");
}
