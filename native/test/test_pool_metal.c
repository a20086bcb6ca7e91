/* The Metal pool API exists in every build; off macOS each call fails cleanly, and on macOS
 * buffers are zeroed, shared (CPU-writable) and tracked by the residency set. */
#include "harness.h"

int main(void) {
  CHECK(llmem_metal_buffer_new(0) == NULL, "zero bytes gives NULL");
  void *b = llmem_metal_buffer_new(4096);
  if (!llmem_metal_available()) {
    CHECK(b == NULL, "no Metal: no buffer");
    CHECK(llmem_metal_buffer_contents(NULL) == NULL, "no contents");
    CHECK(llmem_metal_buffer_length(NULL) == 0, "no length");
    CHECK(llmem_metal_buffer_on_device(NULL) == 0, "not on a device");
    CHECK(llmem_metal_residency_new() == NULL, "no residency set");
    CHECK(llmem_metal_residency_add(NULL, NULL) == -1, "add fails");
    CHECK(llmem_metal_residency_remove(NULL, NULL) == -1, "remove fails");
    CHECK(llmem_metal_residency_count(NULL) == 0, "empty count");
    llmem_metal_residency_commit(NULL);
    llmem_metal_residency_release(NULL);
    llmem_metal_buffer_release(NULL);
    return t_finish("pool_metal (no Metal)");
  }
  CHECK(b != NULL, "buffer allocated");
  unsigned char *p = llmem_metal_buffer_contents(b);
  CHECK(p != NULL && llmem_metal_buffer_length(b) == 4096, "contents and length");
  int zero = 1;
  for (int i = 0; i < 4096; i++) zero &= p[i] == 0;
  CHECK(zero, "zeroed");
  memset(p, 0xAB, 4096);
  CHECK(llmem_metal_buffer_on_device(b) == 1, "on llmem's device");
  void *set = llmem_metal_residency_new();
  if (set) {
    CHECK(llmem_metal_residency_add(set, b) == 0, "added");
    llmem_metal_residency_commit(set);
    CHECK(llmem_metal_residency_count(set) == 1, "one resident allocation");
    CHECK(llmem_metal_residency_remove(set, b) == 0, "removed");
    llmem_metal_residency_commit(set);
    CHECK(llmem_metal_residency_count(set) == 0, "none resident");
    llmem_metal_residency_release(set);
  }
  llmem_metal_buffer_release(b);
  return t_finish("pool_metal");
}
