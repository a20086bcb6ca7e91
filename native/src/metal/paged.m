/* Metal paged attention for kv-cache (macOS): the semantics of llmem_paged_attention (scores
 * over the block table, softmax per head, weighted values, per-head log-sum-exp) in two
 * dispatches of one command buffer, as flash-decoding does: pass 1 runs a threadgroup per
 * (KV head, split of the tokens), serving every query head of the KV head's group so each K
 * and V value is decoded once for all of them, and leaves per query head and split the max,
 * exp-sum and unnormalized output; pass 2 merges a head's splits exactly through their maxima.
 *
 * Scores: each simdgroup takes whole tokens, its lanes stride over the row (coalesced reads)
 * and simd_sum combines them. Softmax: max and sum reduced per simdgroup, then across
 * simdgroups through threadgroup memory. Values: threads own output dimensions, so a
 * simdgroup reads consecutive bytes of one row; rows narrower than the threadgroup (head_dim
 * 64 or 128 against 256 threads) split the tokens among several such slices.
 *
 * Pools inside Metal buffers (llmem_metal_buffer_new: a bucket pool on "metal", a MetalBuffer)
 * are read in place; other memory is not page-aligned and so cannot be wrapped without a copy,
 * and only the blocks the table names are gathered into one buffer in table order. */
#include <math.h>
#include <string.h>

#include "metal_internal.h"

/* Same layout on both sides: 64-bit fields first, so neither compiler pads. */
typedef struct {
  uint64_t block_bytes, k_offset, v_offset;
  uint32_t format, num_heads, num_kv_heads, head_dim, block_size, num_tokens, row_bytes, token_bytes;
  uint32_t num_splits, chunk;
  float scale;
} paged_params;
_Static_assert(sizeof(paged_params) == 72, "paged_params must match the shader's struct");

static NSString *const kPagedSource = @
"#include <metal_stdlib>\n"
"using namespace metal;\n"
"\n"
"struct paged_params {\n"
"  ulong block_bytes, k_offset, v_offset;\n"
"  uint format, num_heads, num_kv_heads, head_dim, block_size, num_tokens, row_bytes, token_bytes;\n"
"  uint num_splits, chunk; // tokens [split * chunk, min(num_tokens, (split + 1) * chunk)) per split\n"
"  float scale;\n"
"};\n"
"\n"
"// Scales sit at byte offsets that are not 2-aligned (34-, 18- and 20-byte blocks): read bytes.\n"
"static inline float half_at(device const uchar *p) {\n"
"  return float(as_type<half>(ushort(p[0] | (p[1] << 8))));\n"
"}\n"
"\n"
"// Value d of a row, decoded as the CPU's dequantizers do (formats of enum llmem_format).\n"
"static inline float row_value(uint format, device const uchar *row, uint d) {\n"
"  switch (format) {\n"
"  case 0: return *((device const float *)row + d);\n"
"  case 1: return half_at(row + 2 * d);\n"
"  case 2: return as_type<float>(uint(row[2 * d] | (row[2 * d + 1] << 8)) << 16);\n"
"  case 3: {\n"
"    device const uchar *b = row + (d / 32) * 34;\n"
"    return float(as_type<char>(b[2 + d % 32])) * half_at(b);\n"
"  }\n"
"  case 4: {\n"
"    device const uchar *b = row + (d / 32) * 18;\n"
"    const uint j = d % 32;\n"
"    const uchar byte = b[2 + (j & 15)];\n"
"    return float(int(j < 16 ? (byte & 15) : (byte >> 4)) - 8) * half_at(b);\n"
"  }\n"
"  default: {\n"
"    device const uchar *b = row + (d / 32) * 20;\n"
"    const uint j = d % 32;\n"
"    const uchar byte = b[4 + (j & 15)];\n"
"    return float(j < 16 ? (byte & 15) : (byte >> 4)) * half_at(b) + half_at(b + 2);\n"
"  }\n"
"  }\n"
"}\n"
"\n"
"static inline ulong row_at(constant paged_params &p, device const uint *table, uint t, uint g) {\n"
"  return ulong(table[t / p.block_size]) * p.block_bytes + ulong(t % p.block_size) * p.token_bytes +\n"
"         ulong(g) * p.row_bytes;\n"
"}\n"
"\n"
"// Threadgroup-wide reductions; partial has a slot per simdgroup (at most 32).\n"
"static float group_max(float v, threadgroup float *partial, uint lane, uint sg, uint sgs) {\n"
"  v = simd_max(v);\n"
"  if (lane == 0) partial[sg] = v;\n"
"  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
"  float r = partial[0];\n"
"  for (uint i = 1; i < sgs; i++) r = max(r, partial[i]);\n"
"  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
"  return r;\n"
"}\n"
"static float group_sum(float v, threadgroup float *partial, uint lane, uint sg, uint sgs) {\n"
"  v = simd_sum(v);\n"
"  if (lane == 0) partial[sg] = v;\n"
"  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
"  float r = 0.0f;\n"
"  for (uint i = 0; i < sgs; i++) r += partial[i];\n"
"  threadgroup_barrier(mem_flags::mem_threadgroup);\n"
"  return r;\n"
"}\n"
"\n"
"// Query heads one threadgroup carries at once. Loops over acc[] have this constant trip\n"
"// count (heads past nh masked), so the compiler can unroll them and keep acc[] in registers.\n"
"#define HEADS_AT_ONCE 8\n"
"\n"
"// Pass 1, one threadgroup per (KV head, split of the tokens), for every query head of the KV\n"
"// head's group, HEADS_AT_ONCE at a time, so each K and V value is decoded once for all of\n"
"// them: the split's scores, their max m and sum l of exp(score - m), and the unnormalized\n"
"// o = sum of exp(score - m) * value row, per query head.\n"
"kernel void llmem_paged_attention_part(device const float *query [[buffer(0)]],\n"
"                                       device const uchar *k_pool [[buffer(1)]],\n"
"                                       device const uchar *v_pool [[buffer(2)]],\n"
"                                       device const uint *table [[buffer(3)]],\n"
"                                       device float *scores [[buffer(4)]],\n"
"                                       device float *part_o [[buffer(5)]],\n"
"                                       device float *part_ml [[buffer(6)]],\n"
"                                       constant paged_params &p [[buffer(7)]],\n"
"                                       uint group_id [[threadgroup_position_in_grid]],\n"
"                                       uint tid [[thread_index_in_threadgroup]],\n"
"                                       uint threads [[threads_per_threadgroup]],\n"
"                                       uint lane [[thread_index_in_simdgroup]],\n"
"                                       uint width [[threads_per_simdgroup]],\n"
"                                       uint sg [[simdgroup_index_in_threadgroup]],\n"
"                                       uint sgs [[simdgroups_per_threadgroup]]) {\n"
"  threadgroup float partial[32];\n"
"  threadgroup float red[256]; // one float per thread: the host launches at most 256\n"
"  const uint group = p.num_heads / p.num_kv_heads;\n"
"  const uint g = group_id / p.num_splits, split = group_id % p.num_splits;\n"
"  const uint first = split * p.chunk, count = min(p.chunk, p.num_tokens - first);\n"
"  device const uchar *k = k_pool + p.k_offset;\n"
"  device const uchar *v = v_pool + p.v_offset;\n"
"  // `lanes` threads cover a row's dimensions; when the row is narrower than the threadgroup,\n"
"  // `slices` groups of them split the tokens and their sums meet in red[].\n"
"  const uint lanes = min(p.head_dim, threads), slices = threads / lanes, slice = tid / lanes;\n"
"\n"
"  for (uint j0 = 0; j0 < group; j0 += HEADS_AT_ONCE) {\n"
"    const uint nh = min(uint(HEADS_AT_ONCE), group - j0), h0 = g * group + j0;\n"
"    device const float *q = query + ulong(h0) * p.head_dim;\n"
"    device float *s = scores + ulong(h0) * p.num_tokens + first; // head h0 + j at s + j * num_tokens\n"
"\n"
"    // Scores: a simdgroup per token, lanes over the row (coalesced), simd_sum per head.\n"
"    for (uint t = sg; t < count; t += sgs) {\n"
"      device const uchar *row = k + row_at(p, table, first + t, g);\n"
"      float acc[HEADS_AT_ONCE];\n"
"      for (uint j = 0; j < HEADS_AT_ONCE; j++) acc[j] = 0.0f;\n"
"      for (uint d = lane; d < p.head_dim; d += width) {\n"
"        const float x = row_value(p.format, row, d);\n"
"        for (uint j = 0; j < HEADS_AT_ONCE; j++)\n"
"          if (j < nh) acc[j] += q[ulong(j) * p.head_dim + d] * x;\n"
"      }\n"
"      for (uint j = 0; j < HEADS_AT_ONCE && j < nh; j++) {\n"
"        const float dot = simd_sum(acc[j]);\n"
"        if (lane == 0) s[ulong(j) * p.num_tokens + t] = p.scale * dot;\n"
"      }\n"
"    }\n"
"    // Scores written by one simdgroup are read by all threads below.\n"
"    threadgroup_barrier(mem_flags::mem_device);\n"
"\n"
"    for (uint j = 0; j < nh; j++) {\n"
"      device float *sj = s + ulong(j) * p.num_tokens;\n"
"      float m = -INFINITY;\n"
"      for (uint t = tid; t < count; t += threads) m = max(m, sj[t]);\n"
"      m = group_max(m, partial, lane, sg, sgs);\n"
"      float l = 0.0f;\n"
"      for (uint t = tid; t < count; t += threads) {\n"
"        const float e = precise::exp(sj[t] - m);\n"
"        sj[t] = e;\n"
"        l += e;\n"
"      }\n"
"      l = group_sum(l, partial, lane, sg, sgs);\n"
"      if (tid == 0) {\n"
"        part_ml[2 * (ulong(h0 + j) * p.num_splits + split)] = m;\n"
"        part_ml[2 * (ulong(h0 + j) * p.num_splits + split) + 1] = l;\n"
"      }\n"
"    }\n"
"    threadgroup_barrier(mem_flags::mem_device);\n"
"\n"
"    for (uint d = tid % lanes; d < p.head_dim; d += lanes) {\n"
"      float acc[HEADS_AT_ONCE];\n"
"      for (uint j = 0; j < HEADS_AT_ONCE; j++) acc[j] = 0.0f;\n"
"      if (slice < slices) {\n"
"        for (uint t = slice; t < count; t += slices) {\n"
"          const float x = row_value(p.format, v + row_at(p, table, first + t, g), d);\n"
"          for (uint j = 0; j < HEADS_AT_ONCE; j++)\n"
"            if (j < nh) acc[j] += s[ulong(j) * p.num_tokens + t] * x;\n"
"        }\n"
"      }\n"
"      for (uint j = 0; j < HEADS_AT_ONCE && j < nh; j++) {\n"
"        float r = acc[j];\n"
"        // slices > 1 means lanes == head_dim: every thread makes exactly one pass of the d\n"
"        // loop, so these barriers are reached by the whole threadgroup.\n"
"        if (slices > 1) {\n"
"          red[tid] = r;\n"
"          threadgroup_barrier(mem_flags::mem_threadgroup);\n"
"          r = 0.0f;\n"
"          for (uint i = 0; i < slices; i++) r += red[i * lanes + d];\n"
"          threadgroup_barrier(mem_flags::mem_threadgroup); // red[] is rewritten for the next head\n"
"        }\n"
"        if (slice == 0) part_o[(ulong(h0 + j) * p.num_splits + split) * p.head_dim + d] = r;\n"
"      }\n"
"    }\n"
"  }\n"
"}\n"
"\n"
"// Pass 2, one threadgroup per query head: the splits merged exactly through their maxima,\n"
"// as the CPU merges segments; lse = M + log(L) with L the rescaled sum of the l's.\n"
"kernel void llmem_paged_attention_merge(device const float *part_o [[buffer(0)]],\n"
"                                        device const float *part_ml [[buffer(1)]],\n"
"                                        device float *out [[buffer(2)]],\n"
"                                        device float *lse [[buffer(3)]],\n"
"                                        constant paged_params &p [[buffer(4)]],\n"
"                                        uint head [[threadgroup_position_in_grid]],\n"
"                                        uint tid [[thread_index_in_threadgroup]],\n"
"                                        uint threads [[threads_per_threadgroup]]) {\n"
"  device const float *ml = part_ml + 2 * ulong(head) * p.num_splits;\n"
"  float big = -INFINITY;\n"
"  for (uint i = 0; i < p.num_splits; i++) big = max(big, ml[2 * i]);\n"
"  float total = 0.0f;\n"
"  for (uint i = 0; i < p.num_splits; i++) total += ml[2 * i + 1] * precise::exp(ml[2 * i] - big);\n"
"  const float inv = 1.0f / total;\n"
"  if (tid == 0) lse[head] = big + precise::log(total);\n"
"  device const float *o = part_o + ulong(head) * p.num_splits * p.head_dim;\n"
"  for (uint d = tid; d < p.head_dim; d += threads) {\n"
"    float acc = 0.0f;\n"
"    for (uint i = 0; i < p.num_splits; i++) acc += o[ulong(i) * p.head_dim + d] * precise::exp(ml[2 * i] - big);\n"
"    out[ulong(head) * p.head_dim + d] = acc * inv;\n"
"  }\n"
"}\n";

/* The Metal buffer holding [pool, pool + bytes) at a 4-aligned offset (f32 rows), or nil. */
static id<MTLBuffer> buffer_holding(const void *pool, size_t bytes, uint64_t *offset) {
  id<MTLBuffer> buffer = llmem_metal_buffer_holding(pool, bytes, offset);
  return buffer && *offset % 4 == 0 && buffer.device == llmem_metal_device() ? buffer : nil;
}

/* The blocks `table` names, copied in table order into one new shared buffer. */
static id<MTLBuffer> gather_blocks(id<MTLDevice> device, const uint8_t *pool, const uint32_t *table,
                                   size_t num_blocks, size_t block_bytes) {
  id<MTLBuffer> buffer = [device newBufferWithLength:num_blocks * block_bytes options:MTLResourceStorageModeShared];
  if (!buffer) return nil;
  uint8_t *dst = buffer.contents;
  for (size_t b = 0; b < num_blocks; b++) memcpy(dst + b * block_bytes, pool + (size_t)table[b] * block_bytes, block_bytes);
  return buffer;
}

int llmem_metal_paged_attention(int format, const float *query, size_t num_heads, size_t num_kv_heads,
                                size_t head_dim, const void *k_pool, size_t k_bytes, const void *v_pool,
                                size_t v_bytes, const uint32_t *block_table,
                                size_t block_size, size_t num_tokens, float scale, float *out, float *lse) {
  const size_t row_bytes = llmem_kv_row_bytes(format, head_dim);
  if (row_bytes == 0 || num_kv_heads == 0 || num_heads == 0 || num_heads % num_kv_heads || block_size == 0 ||
      !query || !k_pool || !v_pool || !block_table || !out || !lse)
    return -1;
  if (num_tokens == 0) {
    memset(out, 0, num_heads * head_dim * sizeof(float));
    for (size_t h = 0; h < num_heads; h++) lse[h] = -INFINITY;
    return 0;
  }
  /* Every index the shader computes fits its 32-bit fields; byte offsets are 64-bit. */
  if (num_heads > UINT32_MAX || head_dim > UINT32_MAX || block_size > UINT32_MAX || num_tokens > UINT32_MAX ||
      num_kv_heads > UINT32_MAX / row_bytes || block_size > SIZE_MAX / (num_kv_heads * row_bytes))
    return -1;
  const size_t token_bytes = num_kv_heads * row_bytes, block_bytes = block_size * token_bytes;
  const size_t num_blocks = (num_tokens + block_size - 1) / block_size;
  for (size_t b = 0; b < num_blocks; b++) {
    if (block_table[b] >= k_bytes / block_bytes || block_table[b] >= v_bytes / block_bytes) return -1;
  }
  @autoreleasepool {
    id<MTLDevice> device = llmem_metal_device();
    id<MTLCommandQueue> queue = llmem_metal_queue();
    id<MTLComputePipelineState> part = llmem_metal_pipeline(kPagedSource, @"llmem_paged_attention_part");
    id<MTLComputePipelineState> merge = llmem_metal_pipeline(kPagedSource, @"llmem_paged_attention_merge");
    if (!device || !queue || !part || !merge) return -1;
    /* A multiple of the SIMD width, at most 256 (the shader's red[256]) and so at most 32
     * simdgroups (its partial[32]) for any width of 8 or more. */
    const NSUInteger width = part.threadExecutionWidth;
    NSUInteger threads = part.maxTotalThreadsPerThreadgroup < 256 ? part.maxTotalThreadsPerThreadgroup : 256;
    threads -= width ? threads % width : threads;
    const NSUInteger merge_threads = merge.maxTotalThreadsPerThreadgroup < 256 ? merge.maxTotalThreadsPerThreadgroup : 256;
    if (width < 8 || threads == 0 || merge_threads == 0) return -1;
    /* Splits of the tokens, so a long context fills the GPU with about 128 threadgroups
     * however few KV heads there are, while each split keeps at least 128 tokens. */
    size_t splits = (128 + num_kv_heads - 1) / num_kv_heads, max_splits = (num_tokens + 127) / 128;
    if (splits > max_splits) splits = max_splits;
    const size_t chunk = (num_tokens + splits - 1) / splits;
    splits = (num_tokens + chunk - 1) / chunk; /* every split non-empty */
    const size_t max_floats = device.maxBufferLength / sizeof(float);
    if (num_heads * num_tokens > max_floats || num_heads * splits * head_dim > max_floats || num_blocks > UINT32_MAX)
      return -1;

    paged_params params = {.block_bytes = block_bytes,
                           .format = (uint32_t)format,
                           .num_heads = (uint32_t)num_heads,
                           .num_kv_heads = (uint32_t)num_kv_heads,
                           .head_dim = (uint32_t)head_dim,
                           .block_size = (uint32_t)block_size,
                           .num_tokens = (uint32_t)num_tokens,
                           .row_bytes = (uint32_t)row_bytes,
                           .token_bytes = (uint32_t)token_bytes,
                           .num_splits = (uint32_t)splits,
                           .chunk = (uint32_t)chunk,
                           .scale = scale};
    id<MTLBuffer> kb = buffer_holding(k_pool, k_bytes, &params.k_offset);
    id<MTLBuffer> vb = buffer_holding(v_pool, v_bytes, &params.v_offset);
    id<MTLBuffer> table;
    if (kb && vb) {
      table = [device newBufferWithBytes:block_table length:num_blocks * sizeof(uint32_t)
                                 options:MTLResourceStorageModeShared];
    } else {
      /* Gathered blocks sit in table order, so the table becomes 0, 1, 2, ... */
      if (num_blocks > device.maxBufferLength / block_bytes) return -1;
      kb = gather_blocks(device, k_pool, block_table, num_blocks, block_bytes);
      vb = gather_blocks(device, v_pool, block_table, num_blocks, block_bytes);
      params.k_offset = params.v_offset = 0;
      table = [device newBufferWithLength:num_blocks * sizeof(uint32_t) options:MTLResourceStorageModeShared];
      uint32_t *identity = table.contents;
      for (size_t b = 0; identity && b < num_blocks; b++) identity[b] = (uint32_t)b;
    }
    id<MTLBuffer> qb = [device newBufferWithBytes:query length:num_heads * head_dim * sizeof(float)
                                          options:MTLResourceStorageModeShared];
    id<MTLBuffer> scores = [device newBufferWithLength:num_heads * num_tokens * sizeof(float)
                                               options:MTLResourceStorageModePrivate];
    id<MTLBuffer> part_o = [device newBufferWithLength:num_heads * splits * head_dim * sizeof(float)
                                               options:MTLResourceStorageModePrivate];
    id<MTLBuffer> part_ml = [device newBufferWithLength:num_heads * splits * 2 * sizeof(float)
                                                options:MTLResourceStorageModePrivate];
    id<MTLBuffer> ob = [device newBufferWithLength:num_heads * head_dim * sizeof(float)
                                           options:MTLResourceStorageModeShared];
    id<MTLBuffer> lb = [device newBufferWithLength:num_heads * sizeof(float) options:MTLResourceStorageModeShared];
    if (!kb || !vb || !table || !qb || !scores || !part_o || !part_ml || !ob || !lb) return -1;
    id<MTLCommandBuffer> cb = [queue commandBuffer];
    id<MTLComputeCommandEncoder> enc = [cb computeCommandEncoder];
    if (!cb || !enc) return -1;
    llmem_metal_encode(enc, part, @[ qb, kb, vb, table, scores, part_o, part_ml ], &params, sizeof params,
                       MTLSizeMake(num_kv_heads * splits, 1, 1), MTLSizeMake(threads, 1, 1), YES);
    llmem_metal_encode(enc, merge, @[ part_o, part_ml, ob, lb ], &params, sizeof params, MTLSizeMake(num_heads, 1, 1),
                       MTLSizeMake(merge_threads, 1, 1), YES);
    [enc endEncoding];
    if (llmem_metal_finish(cb)) return -1;
    memcpy(out, ob.contents, num_heads * head_dim * sizeof(float));
    memcpy(lse, lb.contents, num_heads * sizeof(float));
    return 0;
  }
}
