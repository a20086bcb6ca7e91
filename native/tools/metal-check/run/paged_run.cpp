// Runs the Metal paged-attention kernel (extracted from src/metal/paged.m, executed by the
// CPU emulation in ./metal_stdlib) against libllmem's CPU llmem_paged_attention: every row
// format, scattered block tables, pool offsets, and threadgroup sizes that take each of the
// kernel's value-pass shapes (rows wider than, equal to and narrower than the threadgroup).
// It checks the kernel's indexing, reductions and barriers, not Metal's compiler or driver.
#include <cstdio>
#include <random>
#include <thread>

using os_thread = std::thread; // MSL's `thread` address space becomes an empty macro below

#include SHADER

extern "C" {
#include "llmem.h"
}

namespace {
// Threadgroups run one after another, each as `threads` OS threads.
template <typename F> void run_groups(uint groups, uint threads, uint width, F kernel_fn) {
  for (uint group_id = 0; group_id < groups; group_id++) {
    metal::run_group group(threads, width);
    metal::g_group = &group;
    std::vector<os_thread> pool;
    for (uint tid = 0; tid < threads; tid++) {
      pool.emplace_back([&, tid] {
        metal::t_lane = tid % width;
        metal::t_sg = tid / width;
        kernel_fn(group_id, tid);
      });
    }
    for (auto &t : pool) t.join();
  }
}

// paged.m's choice of splits: about 128 threadgroups, at least 128 tokens per split.
uint host_splits(uint kv_heads, uint tokens) {
  uint splits = (128 + kv_heads - 1) / kv_heads, max_splits = (tokens + 127) / 128;
  return splits > max_splits ? max_splits : splits;
}

// Mirrors paged.m's param packing and its two dispatches (the shader's struct is the only
// definition of the layout).
void run_gpu(int format, const std::vector<float> &query, uint heads, uint kv, uint hd, const std::vector<uchar> &k,
             const std::vector<uchar> &v, ulong offset, const std::vector<uint> &table, uint bs, uint tokens,
             float scale, uint threads, uint splits, std::vector<float> &out, std::vector<float> &lse) {
  const uint row = uint(llmem_kv_row_bytes(format, hd));
  const uint chunk = (tokens + splits - 1) / splits;
  splits = (tokens + chunk - 1) / chunk;
  paged_params p{};
  p.block_bytes = ulong(bs) * kv * row;
  p.k_offset = p.v_offset = offset;
  p.format = uint(format), p.num_heads = heads, p.num_kv_heads = kv, p.head_dim = hd, p.block_size = bs;
  p.num_tokens = tokens, p.row_bytes = row, p.token_bytes = kv * row, p.scale = scale;
  p.num_splits = splits, p.chunk = chunk;
  std::vector<float> scores(size_t(heads) * tokens), part_o(size_t(heads) * splits * hd), part_ml(size_t(heads) * splits * 2);
  const uint width = 32;
  run_groups(kv * splits, threads, width, [&](uint group_id, uint tid) {
    llmem_paged_attention_part(query.data(), k.data(), v.data(), table.data(), scores.data(), part_o.data(),
                               part_ml.data(), p, group_id, tid, threads, tid % width, width, tid / width,
                               threads / width);
  });
  run_groups(heads, 64, width, [&](uint head, uint tid) {
    llmem_paged_attention_merge(part_o.data(), part_ml.data(), out.data(), lse.data(), p, head, tid, 64);
  });
}

std::vector<uchar> encode_rows(int format, const std::vector<float> &x, uint hd) {
  const size_t rows = x.size() / hd, rb = llmem_kv_row_bytes(format, hd);
  std::vector<uchar> out(rows * rb);
  for (size_t r = 0; r < rows; r++) {
    const float *src = x.data() + r * hd;
    uchar *dst = out.data() + r * rb;
    if (format == LLMEM_F32) std::memcpy(dst, src, hd * 4);
    else if (format == LLMEM_F16) llmem_f32_to_f16(src, reinterpret_cast<uint16_t *>(dst), hd);
    else if (format == LLMEM_BF16) llmem_f32_to_bf16(src, reinterpret_cast<uint16_t *>(dst), hd);
    else llmem_quantize(format, src, dst, hd);
  }
  return out;
}
} // namespace

int main() {
  struct shape {
    uint heads, kv, hd, bs, tokens, threads;
  };
  const shape shapes[] = {
      {6, 2, 64, 5, 1, 256}, {6, 2, 64, 5, 23, 256}, {6, 2, 64, 16, 301, 256}, {4, 4, 256, 7, 40, 128},
      {2, 1, 96, 3, 17, 64}, {8, 2, 32, 4, 33, 256}, {3, 3, 128, 8, 64, 128},  {2, 2, 64, 5, 9, 32},
      {1, 1, 64, 16, 700, 64}, // one head, a long context: the host splits it 6 ways
      {20, 2, 64, 8, 50, 128}, // 10 query heads per KV head: two rounds of HEADS_AT_ONCE
  };
  const int formats[] = {LLMEM_F32, LLMEM_F16, LLMEM_BF16, LLMEM_Q8_0, LLMEM_Q4_0, LLMEM_Q4_1};
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int failed = 0, passed = 0;
  for (const shape &s : shapes) {
    for (int format : formats) {
      const size_t row = llmem_kv_row_bytes(format, s.hd);
      (void)row;
      const uint nblocks = (s.tokens + s.bs - 1) / s.bs, pool_blocks = nblocks + 3;
      std::vector<float> kf(size_t(pool_blocks) * s.bs * s.kv * s.hd), vf(kf.size()), q(size_t(s.heads) * s.hd);
      for (float &x : kf) x = normal(rng);
      for (float &x : vf) x = normal(rng);
      for (float &x : q) x = normal(rng);
      const std::vector<uchar> k = encode_rows(format, kf, s.hd), v = encode_rows(format, vf, s.hd);
      std::vector<uint> table(nblocks);
      for (uint b = 0; b < nblocks; b++) table[b] = (b * 5 + 2) % pool_blocks; // scattered, distinct
      const ulong offset = 64;                                                  // pools inside a bigger buffer
      std::vector<uchar> kbuf(offset + k.size()), vbuf(offset + v.size());
      std::memcpy(kbuf.data() + offset, k.data(), k.size());
      std::memcpy(vbuf.data() + offset, v.data(), v.size());
      const float scale = 1.0f / std::sqrt(float(s.hd));

      std::vector<float> out(q.size()), lse(s.heads), ref(q.size()), ref_lse(s.heads);
      std::vector<float> scratch(size_t(s.tokens) * s.heads + 32 * s.hd);
      llmem_paged_attention(format, q.data(), s.heads, s.kv, s.hd, k.data(), v.data(), table.data(), s.bs, s.tokens,
                            scale, scratch.data(), ref.data(), ref_lse.data());
      // The host's choice of splits, and a few forced ones (1 = no merge work, uneven last split).
      for (uint splits : {host_splits(s.kv, s.tokens), 1u, 2u, 5u}) {
        if (splits > s.tokens) continue;
        run_gpu(format, q, s.heads, s.kv, s.hd, kbuf, vbuf, offset, table, s.bs, s.tokens, scale, s.threads, splits,
                out, lse);
        float diff = 0;
        for (size_t i = 0; i < out.size(); i++) diff = std::fmax(diff, std::fabs(out[i] - ref[i]));
        for (uint h = 0; h < s.heads; h++) diff = std::fmax(diff, std::fabs(lse[h] - ref_lse[h]));
        const bool ok = diff < 1e-4f;
        ok ? passed++ : failed++;
        if (!ok || std::getenv("VERBOSE"))
          std::printf("%s format %d heads %u/%u hd %u bs %u tokens %u threads %u splits %u: max diff %g\n",
                      ok ? "ok  " : "FAIL", format, s.heads, s.kv, s.hd, s.bs, s.tokens, s.threads, splits, double(diff));
      }
    }
  }
  std::printf("paged attention kernel (CPU emulation vs llmem_paged_attention): %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
