/* Metal versions of dequantize (Q8_0, Q4_0, Q4_K, Q6_K) and matvec (F32, F16, Q8_0, Q4_0, Q4_K,
 * Q6_K) for macOS.
 *
 * Dequantized values are bit-identical to the CPU paths: each is one f32 multiply of an
 * integer by an fp16 scale, correctly rounded on Metal as on the CPU, and never subnormal
 * (an fp16 scale is at least 2^-24), so fast-math denormal flushing cannot touch it. matvec
 * quantizes x to Q8_0 on the CPU exactly as llmem_matvec does, so it computes the same
 * integer block sums; only the f32 summation order across blocks differs. The K-quants likewise:
 * x goes to Q8_K on the CPU, and each lane takes whole sub-blocks (32 values of Q4_K, 16 of Q6_K)
 * so the lanes stay busy on rows of a few 256-value super-blocks. Q4_K's dequantize is
 * (d·sc)·q − dmin·m in two roundings, as on the CPU: bit-identical unless the Metal compiler's
 * fast math fuses them into an FMA (the CPU emulation below cannot tell; macOS CI can).
 *
 * Buffers are copied in and out (JS memory is not page-aligned, so it cannot be wrapped
 * with newBufferWithBytesNoCopy): this path pays off for large matrices, not small calls. */
#include "../quant/quant_internal.h"
#include "metal_internal.h"

static NSString *const kQuantSource = @
"#include <metal_stdlib>\n"
"using namespace metal;\n"
"\n"
"// Scales sit at byte offsets that are not 2-aligned (34- and 18-byte blocks): read bytes.\n"
"static inline float scale_at(device const uchar *p) {\n"
"  return float(as_type<half>(ushort(p[0] | (p[1] << 8))));\n"
"}\n"
"\n"
"kernel void llmem_quant_dequant_q8_0(device const uchar *src [[buffer(0)]], device float *dst [[buffer(1)]],\n"
"                                     constant uint &n [[buffer(2)]], uint i [[thread_position_in_grid]]) {\n"
"  if (i >= n) return;\n"
"  device const uchar *blk = src + (i / 32) * 34;\n"
"  dst[i] = float(as_type<char>(blk[2 + i % 32])) * scale_at(blk);\n"
"}\n"
"\n"
"kernel void llmem_quant_dequant_q4_0(device const uchar *src [[buffer(0)]], device float *dst [[buffer(1)]],\n"
"                                     constant uint &n [[buffer(2)]], uint i [[thread_position_in_grid]]) {\n"
"  if (i >= n) return;\n"
"  device const uchar *blk = src + (i / 32) * 18;\n"
"  const uint j = i % 32;\n"
"  const uchar byte = blk[2 + (j & 15)];\n"
"  const int q = int(j < 16 ? (byte & 15) : (byte >> 4)) - 8;\n"
"  dst[i] = float(q) * scale_at(blk);\n"
"}\n"
"\n"
"// matvec: one 32-thread simdgroup per row; lanes stride over the row, simd_sum combines.\n"
"kernel void llmem_quant_matvec_f32(device const float *w [[buffer(0)]], device const float *x [[buffer(1)]],\n"
"                                   device float *y [[buffer(2)]], constant uint2 &shape [[buffer(3)]],\n"
"                                   uint row [[threadgroup_position_in_grid]],\n"
"                                   uint lane [[thread_index_in_simdgroup]]) {\n"
"  device const float *r = w + ulong(row) * shape.y;\n"
"  float acc = 0.0f;\n"
"  for (uint c = lane; c < shape.y; c += 32) acc += r[c] * x[c];\n"
"  acc = simd_sum(acc);\n"
"  if (lane == 0) y[row] = acc;\n"
"}\n"
"\n"
"kernel void llmem_quant_matvec_f16(device const half *w [[buffer(0)]], device const float *x [[buffer(1)]],\n"
"                                   device float *y [[buffer(2)]], constant uint2 &shape [[buffer(3)]],\n"
"                                   uint row [[threadgroup_position_in_grid]],\n"
"                                   uint lane [[thread_index_in_simdgroup]]) {\n"
"  device const half *r = w + ulong(row) * shape.y;\n"
"  float acc = 0.0f;\n"
"  for (uint c = lane; c < shape.y; c += 32) acc += float(r[c]) * x[c];\n"
"  acc = simd_sum(acc);\n"
"  if (lane == 0) y[row] = acc;\n"
"}\n"
"\n"
"kernel void llmem_quant_matvec_q8_0(device const uchar *w [[buffer(0)]], device const uchar *xq [[buffer(1)]],\n"
"                                    device float *y [[buffer(2)]], constant uint2 &shape [[buffer(3)]],\n"
"                                    uint row [[threadgroup_position_in_grid]],\n"
"                                    uint lane [[thread_index_in_simdgroup]]) {\n"
"  const uint nb = shape.y / 32;\n"
"  device const uchar *r = w + ulong(row) * nb * 34;\n"
"  float acc = 0.0f;\n"
"  for (uint b = lane; b < nb; b += 32) {\n"
"    device const uchar *wb = r + b * 34;\n"
"    device const uchar *xb = xq + b * 34;\n"
"    int s = 0;\n"
"    for (uint j = 2; j < 34; j++) s += int(as_type<char>(wb[j])) * int(as_type<char>(xb[j]));\n"
"    acc += float(s) * (scale_at(wb) * scale_at(xb));\n"
"  }\n"
"  acc = simd_sum(acc);\n"
"  if (lane == 0) y[row] = acc;\n"
"}\n"
"\n"
"kernel void llmem_quant_matvec_q4_0(device const uchar *w [[buffer(0)]], device const uchar *xq [[buffer(1)]],\n"
"                                    device float *y [[buffer(2)]], constant uint2 &shape [[buffer(3)]],\n"
"                                    uint row [[threadgroup_position_in_grid]],\n"
"                                    uint lane [[thread_index_in_simdgroup]]) {\n"
"  const uint nb = shape.y / 32;\n"
"  device const uchar *r = w + ulong(row) * nb * 18;\n"
"  float acc = 0.0f;\n"
"  for (uint b = lane; b < nb; b += 32) {\n"
"    device const uchar *wb = r + b * 18;\n"
"    device const uchar *xb = xq + b * 34;\n"
"    int s = 0;\n"
"    for (uint j = 0; j < 16; j++) {\n"
"      const uchar byte = wb[2 + j];\n"
"      s += (int(byte & 15) - 8) * int(as_type<char>(xb[2 + j]));\n"
"      s += (int(byte >> 4) - 8) * int(as_type<char>(xb[18 + j]));\n"
"    }\n"
"    acc += float(s) * (scale_at(wb) * scale_at(xb));\n"
"  }\n"
"  acc = simd_sum(acc);\n"
"  if (lane == 0) y[row] = acc;\n"
"}\n"
"\n"
"// ---- K-quants (layouts in src/quant/k_quants.h): 256-value super-blocks ----\n"
"static inline float f32_at(device const uchar *p) {\n"
"  return as_type<float>(uint(p[0]) | (uint(p[1]) << 8) | (uint(p[2]) << 16) | (uint(p[3]) << 24));\n"
"}\n"
"static inline int i16_at(device const uchar *p) { return int(as_type<short>(ushort(p[0] | (p[1] << 8)))); }\n"
"// Q4_K sub-block j's 6-bit scale and min from the 12 scale bytes at s.\n"
"static inline uint q4_k_scale(device const uchar *s, uint j) {\n"
"  return j < 4 ? (s[j] & 63) : ((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));\n"
"}\n"
"static inline uint q4_k_min(device const uchar *s, uint j) {\n"
"  return j < 4 ? (s[j + 4] & 63) : ((s[j + 4] >> 4) | ((s[j] >> 6) << 4));\n"
"}\n"
"// Q6_K value v's level 0..63: ql low/high nibbles plus 2 bits of qh, per 128-value half.\n"
"static inline int q6_k_level(device const uchar *b, uint v) {\n"
"  const uint h = v / 128, r = v % 128, slice = r / 32, l = r % 32;\n"
"  const uchar lo = b[64 * h + l + 32 * (slice & 1)], hi = b[128 + 32 * h + l];\n"
"  return int((slice < 2 ? (lo & 15) : (lo >> 4)) | (((hi >> (2 * slice)) & 3) << 4));\n"
"}\n"
"\n"
"kernel void llmem_quant_dequant_q4_k(device const uchar *src [[buffer(0)]], device float *dst [[buffer(1)]],\n"
"                                     constant uint &n [[buffer(2)]], uint i [[thread_position_in_grid]]) {\n"
"  if (i >= n) return;\n"
"  device const uchar *blk = src + (i / 256) * 144;\n"
"  const uint v = i % 256, j = v / 32;\n"
"  const uint q = (blk[16 + 32 * (j / 2) + v % 32] >> (4 * (j & 1))) & 15;\n"
"  const float dj = scale_at(blk) * float(q4_k_scale(blk + 4, j)), mj = scale_at(blk + 2) * float(q4_k_min(blk + 4, j));\n"
"  dst[i] = dj * float(q) - mj;\n"
"}\n"
"\n"
"kernel void llmem_quant_dequant_q6_k(device const uchar *src [[buffer(0)]], device float *dst [[buffer(1)]],\n"
"                                     constant uint &n [[buffer(2)]], uint i [[thread_position_in_grid]]) {\n"
"  if (i >= n) return;\n"
"  device const uchar *blk = src + (i / 256) * 210;\n"
"  const uint v = i % 256;\n"
"  const float ds = scale_at(blk + 208) * float(as_type<char>(blk[192 + v / 16]));\n"
"  dst[i] = ds * float(q6_k_level(blk, v) - 32);\n"
"}\n"
"\n"
"// Q4_K rows · x in Q8_K: lanes stride over 32-value sub-blocks (8 per super-block).\n"
"kernel void llmem_quant_matvec_q4_k(device const uchar *w [[buffer(0)]], device const uchar *xq [[buffer(1)]],\n"
"                                    device float *y [[buffer(2)]], constant uint2 &shape [[buffer(3)]],\n"
"                                    uint row [[threadgroup_position_in_grid]],\n"
"                                    uint lane [[thread_index_in_simdgroup]]) {\n"
"  const uint nb = shape.y / 256;\n"
"  device const uchar *r = w + ulong(row) * nb * 144;\n"
"  float acc = 0.0f;\n"
"  for (uint u = lane; u < nb * 8; u += 32) {\n"
"    const uint b = u / 8, j = u % 8;\n"
"    device const uchar *wb = r + b * 144;\n"
"    device const uchar *xb = xq + b * 292;\n"
"    device const uchar *q = wb + 16 + 32 * (j / 2);\n"
"    int s = 0;\n"
"    for (uint l = 0; l < 32; l++) s += int((q[l] >> (4 * (j & 1))) & 15) * int(as_type<char>(xb[4 + 32 * j + l]));\n"
"    const int bs = i16_at(xb + 260 + 4 * j) + i16_at(xb + 262 + 4 * j);\n"
"    const float dy = f32_at(xb);\n"
"    acc += (scale_at(wb) * dy) * float(int(q4_k_scale(wb + 4, j)) * s) -\n"
"           (scale_at(wb + 2) * dy) * float(int(q4_k_min(wb + 4, j)) * bs);\n"
"  }\n"
"  acc = simd_sum(acc);\n"
"  if (lane == 0) y[row] = acc;\n"
"}\n"
"\n"
"// Q6_K rows · x in Q8_K: lanes stride over 16-value sub-blocks (16 per super-block).\n"
"kernel void llmem_quant_matvec_q6_k(device const uchar *w [[buffer(0)]], device const uchar *xq [[buffer(1)]],\n"
"                                    device float *y [[buffer(2)]], constant uint2 &shape [[buffer(3)]],\n"
"                                    uint row [[threadgroup_position_in_grid]],\n"
"                                    uint lane [[thread_index_in_simdgroup]]) {\n"
"  const uint nb = shape.y / 256;\n"
"  device const uchar *r = w + ulong(row) * nb * 210;\n"
"  float acc = 0.0f;\n"
"  for (uint u = lane; u < nb * 16; u += 32) {\n"
"    const uint b = u / 16, g = u % 16;\n"
"    device const uchar *wb = r + b * 210;\n"
"    device const uchar *xb = xq + b * 292;\n"
"    int s = 0;\n"
"    for (uint l = 0; l < 16; l++) s += (q6_k_level(wb, 16 * g + l) - 32) * int(as_type<char>(xb[4 + 16 * g + l]));\n"
"    acc += (scale_at(wb + 208) * f32_at(xb)) * float(int(as_type<char>(wb[192 + g])) * s);\n"
"  }\n"
"  acc = simd_sum(acc);\n"
"  if (lane == 0) y[row] = acc;\n"
"}\n";

/* The simdgroup kernels (matvec) put one row on one 32-lane simdgroup: a GPU with another
 * SIMD width would leave lanes unused or rows unfinished, so those refuse to run there. */
static int run_pass(NSString *function, NSArray<id<MTLBuffer>> *buffers, const void *params, size_t params_len,
                    MTLSize grid, NSUInteger group, BOOL simdgroup_rows) {
  id<MTLComputePipelineState> pipeline = llmem_metal_pipeline(kQuantSource, function);
  if (!pipeline) return -1;
  if (simdgroup_rows) {
    if (pipeline.threadExecutionWidth != 32 || pipeline.maxTotalThreadsPerThreadgroup < 32) return -1;
    return llmem_metal_run(pipeline, buffers, params, params_len, grid, MTLSizeMake(32, 1, 1), YES);
  }
  /* A pipeline's limit can be below the device's (register pressure): never ask for more. */
  const NSUInteger width = group < pipeline.maxTotalThreadsPerThreadgroup ? group : pipeline.maxTotalThreadsPerThreadgroup;
  return llmem_metal_run(pipeline, buffers, params, params_len, grid, MTLSizeMake(width, 1, 1), NO);
}

int llmem_metal_dequantize(int format, const void *src, float *dst, size_t n) {
  @autoreleasepool {
    id<MTLDevice> device = llmem_metal_device();
    NSString *function = format == LLMEM_Q8_0   ? @"llmem_quant_dequant_q8_0"
                         : format == LLMEM_Q4_0 ? @"llmem_quant_dequant_q4_0"
                         : format == LLMEM_Q4_K ? @"llmem_quant_dequant_q4_k"
                         : format == LLMEM_Q6_K ? @"llmem_quant_dequant_q6_k"
                                                : nil;
    if (!device || !function || n % (size_t)llmem_formats[format].block_size || n > UINT32_MAX) return -1;
    if (n == 0) return 0;
    const size_t in_bytes = n / (size_t)llmem_formats[format].block_size * llmem_formats[format].block_bytes,
                 out_bytes = n * 4;
    if (out_bytes > device.maxBufferLength) return -1;
    id<MTLBuffer> src_buf = [device newBufferWithBytes:src length:in_bytes options:MTLResourceStorageModeShared];
    id<MTLBuffer> dst_buf = [device newBufferWithLength:out_bytes options:MTLResourceStorageModeShared];
    if (!src_buf || !dst_buf) return -1;
    const uint32_t count = (uint32_t)n;
    if (run_pass(function, @[ src_buf, dst_buf ], &count, sizeof count, MTLSizeMake(n, 1, 1), 256, NO))
      return -1;
    memcpy(dst, dst_buf.contents, out_bytes);
    return 0;
  }
}

int llmem_metal_matvec(int format, const void *w, size_t rows, size_t cols, const float *x, float *y) {
  @autoreleasepool {
    id<MTLDevice> device = llmem_metal_device();
    if (!device || rows > UINT32_MAX || cols > UINT32_MAX) return -1;
    size_t row_bytes;
    NSString *function;
    switch (format) {
    case LLMEM_F32: row_bytes = cols * 4, function = @"llmem_quant_matvec_f32"; break;
    case LLMEM_F16: row_bytes = cols * 2, function = @"llmem_quant_matvec_f16"; break;
    case LLMEM_Q8_0: row_bytes = cols / 32 * Q8_0_BYTES, function = @"llmem_quant_matvec_q8_0"; break;
    case LLMEM_Q4_0: row_bytes = cols / 32 * Q4_0_BYTES, function = @"llmem_quant_matvec_q4_0"; break;
    case LLMEM_Q4_K: row_bytes = cols / 256 * 144, function = @"llmem_quant_matvec_q4_k"; break;
    case LLMEM_Q6_K: row_bytes = cols / 256 * 210, function = @"llmem_quant_matvec_q6_k"; break;
    default: return -1;
    }
    /* The activation format of the block formats' dots (Q8_0, or Q8_K for the K-quants); -1 for f32/f16. */
    const int act = format == LLMEM_F32 || format == LLMEM_F16 ? -1 : llmem_formats[format].vec_dot_format;
    const int quantized = act >= 0;
    if (quantized && cols % (size_t)llmem_formats[format].block_size) return -1;
    if (rows == 0 || cols == 0) return 0;
    if (rows * row_bytes > device.maxBufferLength) return -1;
    id<MTLBuffer> wb = [device newBufferWithBytes:w length:rows * row_bytes options:MTLResourceStorageModeShared];
    const size_t x_bytes =
        quantized ? cols / (size_t)llmem_formats[act].block_size * llmem_formats[act].block_bytes : cols * 4;
    id<MTLBuffer> xb = [device newBufferWithLength:x_bytes options:MTLResourceStorageModeShared];
    id<MTLBuffer> yb = [device newBufferWithLength:rows * 4 options:MTLResourceStorageModeShared];
    if (!wb || !xb || !yb) return -1;
    /* x as the CPU path sees it: Q8_0 / Q8_K for the block formats (same bytes as llmem_matvec). */
    if (quantized) llmem_format_kernels_active[act].from_float(x, xb.contents, cols);
    else memcpy(xb.contents, x, cols * 4);
    const uint32_t shape[2] = {(uint32_t)rows, (uint32_t)cols};
    if (run_pass(function, @[ wb, xb, yb ], shape, sizeof shape, MTLSizeMake(rows, 1, 1), 32, YES))
      return -1;
    memcpy(y, yb.contents, rows * 4);
    return 0;
  }
}
