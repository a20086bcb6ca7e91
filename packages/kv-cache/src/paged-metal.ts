/**
 * Paged attention on the GPU (macOS, Metal): the same arguments and results as
 * `pagedAttention` (up to f32 summation order and the GPU's exp), used when the pools are
 * Metal buffers or when asked (`force`, or LLMEM_METAL=1), and falling back to the CPU
 * kernel whenever Metal is missing or fails. Pools in ordinary memory are gathered block by
 * block into a GPU buffer on every call; pools that are views of MetalBuffers are read in place.
 */
import type { Pointer } from "bun:ffi";
import { MetalBuffer } from "@llmem/bucket-pool";
import { checkInt, LlmemError } from "@llmem/core";
import { nativeLib, viewPtr } from "@llmem/native";
import { type PagedAttentionArgs, pagedAttention } from "./paged-kernel.ts";
import { checkFormat, checkHeadDimFor, ROW_FORMATS, type RowFormat, rowBytes } from "./row-formats.ts";

const FORMAT_CODE: Record<RowFormat, number> = { f32: 0, f16: 1, bf16: 2, q8_0: 3, q4_0: 4, q4_1: 5 };

export interface MetalAttentionOptions {
  /** The MetalBuffer whose contents `kPool` views (read in place, no copy). */
  kBuffer?: MetalBuffer;
  /** The MetalBuffer whose contents `vPool` views. */
  vBuffer?: MetalBuffer;
  /** Use the GPU even for pools in ordinary memory (default: LLMEM_METAL=1). */
  force?: boolean;
}

/** True when libllmem is loaded with a Metal device and LLMEM_METAL is not "0". */
export function metalAttentionAvailable(): boolean {
  if (process.env.LLMEM_METAL === "0") return false;
  const lib = nativeLib();
  return lib !== null && lib.llmem_metal_available() === 1;
}

function fail(argument: string, message: string): never {
  throw new LlmemError("INVALID_ARGUMENT", message, { argument });
}

/** The Metal handle behind `pool`, after checking that `pool` really views that buffer. */
function handleFor(name: string, pool: PagedAttentionArgs["kPool"], buffer: MetalBuffer | undefined): number {
  if (buffer === undefined) return 0;
  if (!(buffer instanceof MetalBuffer)) fail(name, `${name} must be a MetalBuffer`);
  if (buffer.handle === 0) throw new LlmemError("STALE_HANDLE", `${name} was freed`, { argument: name });
  if (pool.buffer !== buffer.buffer) fail(name, `${name} must be the MetalBuffer the pool is a view of`);
  return buffer.handle;
}

/**
 * The checks `pagedAttention` makes, for the arguments the GPU reads: lengths, and every
 * block id of the table against both pools.
 */
function checkForGpu(a: PagedAttentionArgs): RowFormat {
  const format = checkFormat("format", a.format, ROW_FORMATS);
  const numKvHeads = checkInt("numKvHeads", a.numKvHeads, 1, 4096);
  const numHeads = checkInt("numHeads", a.numHeads, 1, 65536);
  const headDim = checkInt("headDim", a.headDim, 1, 65536);
  checkHeadDimFor(format, headDim);
  if (numHeads % numKvHeads !== 0)
    fail("numHeads", `numHeads ${numHeads} must be a multiple of numKvHeads ${numKvHeads}`);
  const blockSize = checkInt("blockSize", a.blockSize, 1, 1 << 20);
  const numTokens = checkInt("numTokens", a.numTokens, 0, 2 ** 31);
  const vectors: [string, unknown, number][] = [
    ["query", a.query, numHeads * headDim],
    ["out", a.out, numHeads * headDim],
    ["lse", a.lse, numHeads],
  ];
  for (const [name, v, n] of vectors) {
    if (!(v instanceof Float32Array) || v.length !== n)
      fail(name, `${name} must be a Float32Array of ${n} floats`);
  }
  if (!(a.blockTable instanceof Uint32Array)) fail("blockTable", "blockTable must be a Uint32Array");
  if (!Number.isFinite(a.scale)) fail("scale", `scale must be finite, got ${a.scale}`);
  const blockBytes = blockSize * numKvHeads * rowBytes(format, headDim);
  const numBlocks = Math.ceil(numTokens / blockSize);
  const poolBlocks = Math.min(
    Math.floor(a.kPool.byteLength / blockBytes),
    Math.floor(a.vPool.byteLength / blockBytes),
  );
  if (a.blockTable.length < numBlocks) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `blockTable holds ${a.blockTable.length} blocks, need ${numBlocks}`,
      {
        argument: "blockTable",
      },
    );
  }
  for (let i = 0; i < numBlocks; i++) {
    if (a.blockTable[i]! >= poolBlocks) {
      throw new LlmemError(
        "OUT_OF_BOUNDS",
        `blockTable[${i}] = ${a.blockTable[i]} is not a block of the pools (${poolBlocks} blocks)`,
        { argument: "blockTable", index: i },
      );
    }
  }
  return format;
}

/**
 * `pagedAttention` on the GPU when Metal is available and wanted (both pools given as
 * MetalBuffers, `force`, or LLMEM_METAL=1), otherwise, or if the GPU fails, on the CPU.
 * Returns where it ran. Invalid arguments throw the same LlmemErrors either way.
 */
export function pagedAttentionMetal(
  a: PagedAttentionArgs,
  options: MetalAttentionOptions = {},
): "metal" | "cpu" {
  const format = checkForGpu(a);
  const kHandle = handleFor("kBuffer", a.kPool, options.kBuffer);
  const vHandle = handleFor("vBuffer", a.vPool, options.vBuffer);
  const wanted =
    (kHandle !== 0 && vHandle !== 0) || options.force === true || process.env.LLMEM_METAL === "1";
  const lib = nativeLib();
  if (!wanted || a.numTokens === 0 || lib === null || !metalAttentionAvailable()) {
    pagedAttention(a);
    return "cpu";
  }
  const kBytes = new Uint8Array(a.kPool.buffer, a.kPool.byteOffset, a.kPool.byteLength);
  const vBytes = new Uint8Array(a.vPool.buffer, a.vPool.byteOffset, a.vPool.byteLength);
  const rc = lib.llmem_metal_paged_attention(
    FORMAT_CODE[format],
    viewPtr("query", a.query),
    a.numHeads,
    a.numKvHeads,
    a.headDim,
    viewPtr("kPool", kBytes),
    kBytes.length,
    viewPtr("vPool", vBytes),
    vBytes.length,
    kHandle as unknown as Pointer,
    vHandle as unknown as Pointer,
    viewPtr("blockTable", a.blockTable, 0, Math.ceil(a.numTokens / a.blockSize)),
    a.blockSize,
    a.numTokens,
    a.scale,
    viewPtr("out", a.out),
    viewPtr("lse", a.lse),
  );
  if (rc === 0) return "metal";
  pagedAttention(a);
  return "cpu";
}
