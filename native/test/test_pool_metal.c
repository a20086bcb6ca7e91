/* The Metal pool API exists in every build; off macOS each call fails cleanly. On macOS the
 * C tests link only the C sources (no Objective-C), so the Metal side is tested through bun
 * (packages/bucket-pool/test/metal.test.ts); the checks below document what it must do. */
#include "harness.h"

#ifdef __APPLE__
int main(void) { return t_finish("pool_metal (Metal: tested through bun)"); }
#else
int main(void) {
  CHECK(!llmem_metal_available(), "no Metal device off macOS");
  CHECK(llmem_metal_buffer_new(0) == NULL, "zero bytes gives NULL");
  CHECK(llmem_metal_buffer_new(4096) == NULL, "no buffer");
  CHECK(llmem_metal_buffer_contents(NULL) == NULL, "no contents");
  CHECK(llmem_metal_buffer_length(NULL) == 0, "no length");
  CHECK(llmem_metal_buffer_on_device(NULL) == 0, "not on a device");
  CHECK(llmem_metal_residency_new() == NULL, "no residency set");
  CHECK(llmem_metal_residency_add(NULL, NULL) == -1, "add fails");
  CHECK(llmem_metal_residency_remove(NULL, NULL) == -1, "remove fails");
  CHECK(llmem_metal_residency_count(NULL) == 0, "empty count");
  llmem_metal_residency_commit(NULL); /* no-ops that must not crash */
  llmem_metal_residency_release(NULL);
  llmem_metal_buffer_release(NULL);
  return t_finish("pool_metal (no Metal)");
}
#endif
