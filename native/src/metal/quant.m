/* Metal versions of dequantize (Q8_0, Q4_0) and matvec (F32, F16, Q8_0, Q4_0) for macOS.
 *
 * Dequantized values are bit-identical to the CPU paths: each is one f32 multiply of an
 * integer by an fp16 scale, correctly rounded on Metal as on the CPU, and never subnormal
 * (an fp16 scale is at least 2^-24), so fast-math denormal flushing cannot touch it. matvec
 * quantizes x to Q8_0 on the CPU exactly as llmem_matvec does, so it computes the same
 * integer block sums; only the f32 summation order across blocks differs.
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
    if (!device || n % 32 || n > UINT32_MAX) return -1;
    NSString *function = format == LLMEM_Q8_0 ? @"llmem_quant_dequant_q8_0"
                         : format == LLMEM_Q4_0 ? @"llmem_quant_dequant_q4_0"
                                                : nil;
    if (!function) return -1;
    if (n == 0) return 0;
    const size_t in_bytes = n / 32 * (format == LLMEM_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES), out_bytes = n * 4;
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
    default: return -1;
    }
    const int quantized = format == LLMEM_Q8_0 || format == LLMEM_Q4_0;
    if (quantized && cols % 32) return -1;
    if (rows == 0 || cols == 0) return 0;
    if (rows * row_bytes > device.maxBufferLength) return -1;
    id<MTLBuffer> wb = [device newBufferWithBytes:w length:rows * row_bytes options:MTLResourceStorageModeShared];
    id<MTLBuffer> xb = [device newBufferWithLength:quantized ? cols / 32 * Q8_0_BYTES : cols * 4
                                           options:MTLResourceStorageModeShared];
    id<MTLBuffer> yb = [device newBufferWithLength:rows * 4 options:MTLResourceStorageModeShared];
    if (!wb || !xb || !yb) return -1;
    /* x as the CPU path sees it: Q8_0 for the block formats (same bytes as llmem_matvec). */
    if (quantized) llmem_format_kernels_active[LLMEM_Q8_0].from_float(x, xb.contents, cols);
    else memcpy(xb.contents, x, cols * 4);
    const uint32_t shape[2] = {(uint32_t)rows, (uint32_t)cols};
    if (run_pass(function, @[ wb, xb, yb ], shape, sizeof shape, MTLSizeMake(rows, 1, 1), 32, YES))
      return -1;
    memcpy(y, yb.contents, rows * 4);
    return 0;
  }
}
