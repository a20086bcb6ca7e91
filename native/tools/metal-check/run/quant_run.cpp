// Runs the Metal dequantize and matvec kernels (extracted from src/metal/quant.m, executed by
// the CPU emulation in ./metal_stdlib) against libllmem's CPU paths: dequantize must match
// bit for bit, matvec up to f32 summation order. The host's launch shapes are mirrored: one
// thread per value for dequantize, one 32-thread threadgroup per row for matvec.
#include <cstdio>
#include <random>
#include <thread>

using os_thread = std::thread; // MSL's `thread` address space becomes an empty macro below

#include SHADER

extern "C" {
#include "llmem.h"
}

namespace {
template <typename K> void run_rows(uint rows, K lane_fn) {
  for (uint row = 0; row < rows; row++) {
    metal::run_group group(32, 32);
    metal::g_group = &group;
    std::vector<os_thread> lanes;
    for (uint lane = 0; lane < 32; lane++) {
      lanes.emplace_back([&, lane] {
        metal::t_lane = lane;
        metal::t_sg = 0;
        lane_fn(row, lane);
      });
    }
    for (auto &t : lanes) t.join();
  }
}
} // namespace

int main() {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int passed = 0, failed = 0;
  const int block_formats[] = {LLMEM_Q8_0, LLMEM_Q4_0};
  for (int format : block_formats) {
    const uint n = 32 * 37;
    std::vector<float> x(n), ref(n), got(n);
    for (float &v : x) v = normal(rng) * 3;
    x[5] = 0, x[40] = 1e-9f; // tiny values: scales near the fp16 subnormal range
    std::vector<uchar> q(n / 32 * (format == LLMEM_Q8_0 ? 34 : 18));
    llmem_quantize(format, x.data(), q.data(), n);
    llmem_dequantize(format, q.data(), ref.data(), n);
    for (uint i = 0; i < n + 31; i++) { // the grid rounds up: threads past n must return
      if (format == LLMEM_Q8_0) llmem_quant_dequant_q8_0(q.data(), got.data(), n, i);
      else llmem_quant_dequant_q4_0(q.data(), got.data(), n, i);
    }
    const bool ok = std::memcmp(ref.data(), got.data(), n * 4) == 0;
    ok ? passed++ : failed++;
    std::printf("%s dequantize format %d: %s\n", ok ? "ok  " : "FAIL", format, ok ? "bit-identical" : "differs");
  }
  // The K-quants: dequantize bit-identical (tiny and negative-dominant blocks included).
  const int k_formats[] = {LLMEM_Q4_K, LLMEM_Q6_K};
  for (int format : k_formats) {
    const uint n = 256 * 5;
    std::vector<float> x(n), ref(n), got(n);
    for (float &v : x) v = normal(rng) * 3;
    for (uint i = 256; i < 512; i++) x[i] = normal(rng) * 1e-6f; // fp16-subnormal super-block scales
    for (uint i = 512; i < 768; i++) x[i] = -std::fabs(normal(rng)) - 0.5f;
    std::vector<uchar> q(n / 256 * (format == LLMEM_Q4_K ? 144 : 210));
    llmem_quantize(format, x.data(), q.data(), n);
    llmem_dequantize(format, q.data(), ref.data(), n);
    for (uint i = 0; i < n + 255; i++) {
      if (format == LLMEM_Q4_K) llmem_quant_dequant_q4_k(q.data(), got.data(), n, i);
      else llmem_quant_dequant_q6_k(q.data(), got.data(), n, i);
    }
    const bool ok = std::memcmp(ref.data(), got.data(), n * 4) == 0;
    ok ? passed++ : failed++;
    std::printf("%s dequantize format %d: %s\n", ok ? "ok  " : "FAIL", format, ok ? "bit-identical" : "differs");
  }
  const int formats[] = {LLMEM_F32, LLMEM_F16, LLMEM_Q8_0, LLMEM_Q4_0, LLMEM_Q4_K, LLMEM_Q6_K};
  const uint shapes[][2] = {{5, 64}, {3, 96}, {4, 1056}, {2, 33}, {3, 512}, {2, 4096}, {7, 1280}};
  for (int format : formats) {
    for (const auto &shape : shapes) {
      const uint rows = shape[0], cols = shape[1];
      const bool kq = format == LLMEM_Q4_K || format == LLMEM_Q6_K;
      const bool blocks = format == LLMEM_Q8_0 || format == LLMEM_Q4_0 || kq;
      if (blocks && cols % (kq ? 256 : 32)) continue;
      std::vector<float> w(size_t(rows) * cols), x(cols), ref(rows), got(rows);
      for (float &v : w) v = normal(rng);
      for (float &v : x) v = normal(rng);
      const size_t row_bytes = format == LLMEM_F32   ? cols * 4
                               : format == LLMEM_F16 ? cols * 2
                               : format == LLMEM_Q4_K ? cols / 256 * 144
                               : format == LLMEM_Q6_K ? cols / 256 * 210
                                                     : cols / 32 * (format == LLMEM_Q8_0 ? 34 : 18);
      std::vector<uchar> wb(rows * row_bytes);
      if (format == LLMEM_F32) std::memcpy(wb.data(), w.data(), wb.size());
      else if (format == LLMEM_F16) llmem_f32_to_f16(w.data(), reinterpret_cast<uint16_t *>(wb.data()), w.size());
      else llmem_quantize(format, w.data(), wb.data(), w.size());
      std::vector<float> scratch(cols / 32 + cols / 256 * 292 / 4 + cols / 32 * 38 / 4 + 8);
      llmem_matvec(format, wb.data(), rows, cols, x.data(), ref.data(), scratch.data());
      std::vector<uchar> xq(kq ? cols / 256 * 292 : cols / 32 * 34);
      // the host quantizes x, as llmem_matvec does (Q8_K for the K-quants)
      if (blocks) llmem_quantize(kq ? LLMEM_Q8_K : LLMEM_Q8_0, x.data(), xq.data(), cols);
      const uint2 sh{rows, cols};
      run_rows(rows, [&](uint row, uint lane) {
        switch (format) {
        case LLMEM_F32: llmem_quant_matvec_f32(reinterpret_cast<const float *>(wb.data()), x.data(), got.data(), sh, row, lane); break;
        case LLMEM_F16: llmem_quant_matvec_f16(reinterpret_cast<const half *>(wb.data()), x.data(), got.data(), sh, row, lane); break;
        case LLMEM_Q8_0: llmem_quant_matvec_q8_0(wb.data(), xq.data(), got.data(), sh, row, lane); break;
        case LLMEM_Q4_K: llmem_quant_matvec_q4_k(wb.data(), xq.data(), got.data(), sh, row, lane); break;
        case LLMEM_Q6_K: llmem_quant_matvec_q6_k(wb.data(), xq.data(), got.data(), sh, row, lane); break;
        default: llmem_quant_matvec_q4_0(wb.data(), xq.data(), got.data(), sh, row, lane); break;
        }
      });
      float diff = 0, mag = 1;
      for (uint r = 0; r < rows; r++) diff = std::fmax(diff, std::fabs(got[r] - ref[r])), mag = std::fmax(mag, std::fabs(ref[r]));
      const bool ok = diff <= 1e-5f * mag * std::sqrt(float(cols));
      ok ? passed++ : failed++;
      std::printf("%s matvec format %d %ux%u: max diff %g\n", ok ? "ok  " : "FAIL", format, rows, cols, double(diff));
    }
  }
  std::printf("quant kernels (CPU emulation vs libllmem): %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
