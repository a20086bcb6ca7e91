/* libllmem's decode dots against ggml's own, same data, same process (a dev tool, not a test):
 * per format, one matvec's worth of rows (W rows × cols) dotted with one activation row, by
 * (a) ggml's ggml_vec_dot_<fmt> called once per row (as ggml's mul_mat does for one token),
 * (b) libllmem's llmem_dot_<fmt> once per row, (c) llmem_matvec (single thread: the multi-row
 * kernels, activation quantization included). Reports ns per row, the ratio to ggml, GB/s of
 * weight bytes and the fraction of a plain read (llmem_read_bytes) of the same bytes.
 *
 *   native/tools/vs-ggml/run.sh [LLAMA_CPP_BUILD_BIN]   (default /tmp/llama.cpp/build/bin)
 *
 * ggml is linked from the llama.cpp build at run time only; nothing of it is in the project. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../include/llmem.h"

typedef void (*ggml_dot_fn)(int n, float *s, size_t bs, const void *x, size_t bx, const void *y, size_t by, int nrc);
typedef void (*ggml_quant_fn)(const float *x, void *y, int64_t k);
typedef float (*llmem_dot_fn)(const void *x, const void *y, size_t n);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

typedef struct {
  const char *name;
  int format, act_format;
  const char *ggml_dot, *ggml_act_quant;
  llmem_dot_fn llmem_dot;
  int matrix; /* llmem_matvec takes it */
} kernel;

static double median(double *v, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
      double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t;
    }
  return v[n / 2];
}

int main(int argc, char **argv) {
  const char *bin = argc > 1 ? argv[1] : "/tmp/llama.cpp/build/bin";
  char path[4096];
  snprintf(path, sizeof path, "%s/libggml-cpu.so", bin);
  void *g = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (!g) { fprintf(stderr, "%s\n", dlerror()); return 2; }
  void (*ggml_cpu_init)(void) = (void (*)(void))dlsym(g, "ggml_cpu_init");
  if (ggml_cpu_init) ggml_cpu_init();
  const kernel ks[] = {
      {"q8_0·q8_0", LLMEM_Q8_0, LLMEM_Q8_0, "ggml_vec_dot_q8_0_q8_0", "quantize_row_q8_0", llmem_dot_q8_0_q8_0, 1},
      {"q4_0·q8_0", LLMEM_Q4_0, LLMEM_Q8_0, "ggml_vec_dot_q4_0_q8_0", "quantize_row_q8_0", llmem_dot_q4_0_q8_0, 1},
      {"q4_1·q8_1", LLMEM_Q4_1, LLMEM_Q8_1, "ggml_vec_dot_q4_1_q8_1", "quantize_row_q8_1", llmem_dot_q4_1_q8_1, 0},
      {"q4_K·q8_K", LLMEM_Q4_K, LLMEM_Q8_K, "ggml_vec_dot_q4_K_q8_K", "quantize_row_q8_K", llmem_dot_q4_k_q8_k, 1},
      {"q6_K·q8_K", LLMEM_Q6_K, LLMEM_Q8_K, "ggml_vec_dot_q6_K_q8_K", "quantize_row_q8_K", llmem_dot_q6_k_q8_k, 1},
      {"iq4_xs·q8_K", LLMEM_IQ4_XS, LLMEM_Q8_K, "ggml_vec_dot_iq4_xs_q8_K", "quantize_row_q8_K", llmem_dot_iq4_xs_q8_k, 1},
  };
  /* Shapes: a 768×256/288-wide layer matrix (cache-resident) and a 32000×288/256 classifier. */
  const size_t shapes[][2] = {{768, 256}, {32000, 256}, {768, 288}, {32000, 288}};
  llmem_set_threads(1);
  printf("ISA %s; ns per row (median of 15), ratio llmem/ggml (>1 = slower), weight GB/s, fraction of a plain read\n",
         llmem_isa_name(llmem_active_isa()));
  printf("%-11s %-11s %9s %9s %6s %9s %6s %8s %6s\n", "kernel", "rows×cols", "ggml", "llmem_dot", "ratio", "matvec",
         "ratio", "GB/s", "read");
  for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
    const kernel *kn = &ks[k];
    uint32_t fw[4], fa[4];
    llmem_format_describe(kn->format, fw);
    llmem_format_describe(kn->act_format, fa);
    ggml_dot_fn gdot = (ggml_dot_fn)dlsym(g, kn->ggml_dot);
    ggml_quant_fn gq = (ggml_quant_fn)dlsym(g, kn->ggml_act_quant);
    if (!gdot || !gq) { fprintf(stderr, "missing %s\n", kn->ggml_dot); return 2; }
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      const size_t rows = shapes[s][0], cols = shapes[s][1];
      if (cols % fw[0]) continue;
      const size_t rb = cols / fw[0] * fw[1], ab = cols / fa[0] * fa[1];
      float *wf = malloc(rows * cols * sizeof(float)), *x = malloc(cols * sizeof(float));
      for (size_t i = 0; i < rows * cols; i++) wf[i] = frand();
      for (size_t i = 0; i < cols; i++) x[i] = frand();
      uint8_t *w = llmem_alloc(rows * rb, 64), *xq_g = malloc(ab), *xq_l = malloc(ab);
      if (llmem_quantize(kn->format, wf, w, rows * cols)) { fprintf(stderr, "quantize %s\n", kn->name); return 2; }
      gq(x, xq_g, (int64_t)cols);
      llmem_quantize(kn->act_format, x, xq_l, cols);
      float *yg = malloc(rows * sizeof(float)), *yl = malloc(rows * sizeof(float)), *ym = malloc(rows * sizeof(float));
      void *scratch = llmem_alloc(cols * 8 + 4096, 64);
      const int reps = 15;
      double tg[15], tl[15], tm[15], tr[15];
      volatile uint64_t sink = 0;
      for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t i = 0; i < rows; i++) gdot((int)cols, yg + i, 0, w + i * rb, 0, xq_g, 0, 1);
        double t1 = now();
        for (size_t i = 0; i < rows; i++) yl[i] = kn->llmem_dot(w + i * rb, xq_l, cols);
        double t2 = now();
        if (kn->matrix) llmem_matvec(kn->format, w, rows, cols, x, ym, scratch);
        double t3 = now();
        sink += llmem_read_bytes(w, rows * rb);
        double t4 = now();
        tg[r] = t1 - t0, tl[r] = t2 - t1, tm[r] = t3 - t2, tr[r] = t4 - t3;
      }
      double max_rel = 0;
      for (size_t i = 0; i < rows; i++) {
        const double d = fabs((double)yg[i] - yl[i]) / (fabs(yg[i]) + 1e-3);
        if (d > max_rel) max_rel = d;
      }
      const double g_ns = median(tg, reps) / rows * 1e9, l_ns = median(tl, reps) / rows * 1e9;
      const double m_ns = kn->matrix ? median(tm, reps) / rows * 1e9 : NAN, r_s = median(tr, reps);
      const double best = kn->matrix && m_ns < l_ns ? m_ns : l_ns;
      char shape[32];
      snprintf(shape, sizeof shape, "%zux%zu", rows, cols);
      printf("%-11s %-11s %9.1f %9.1f %6.2f %9.1f %6.2f %8.1f %6.2f  (max rel diff vs ggml %.1e)\n", kn->name, shape,
             g_ns, l_ns, l_ns / g_ns, m_ns, m_ns / g_ns, rb / best, r_s / rows * 1e9 / best, max_rel);
      free(wf), free(x), free(xq_g), free(xq_l), free(yg), free(yl), free(ym);
      llmem_free(w), llmem_free(scratch);
      (void)sink;
    }
  }
  return 0;
}
