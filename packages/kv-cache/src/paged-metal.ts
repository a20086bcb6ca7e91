/**
 * Paged attention on the GPU (macOS, Metal): the same arguments and results as
 * `pagedAttention` (up to f32 summation order and the GPU's exp), used when the pools are
 * Metal buffers (views of a MetalBuffer or of a "metal" BucketPool's buffers: read in place)
 * or when asked (`force`, or LLMEM_METAL=1: pools in ordinary memory are then gathered block
 * by block into a GPU buffer on every call), falling back to the CPU kernel whenever Metal is
 * missing or fails. LLMEM_METAL=0 keeps everything on the CPU.
 */
import { checkInt, LlmemError } from "@llmem/core";
import { nativeLib, viewPtr } from "@llmem/native";
import { type PagedAttentionArgs, pagedAttention } from "./paged-kernel.ts";
import { checkFormat, checkHeadDimFor, ROW_FORMATS, type RowFormat, rowBytes } from "./row-formats.ts";

const FORMAT_CODE: Record<RowFormat, number> = { f32: 0, f16: 1, bf16: 2, q8_0: 3, q4_0: 4, q4_1: 5 };

export interface MetalAttentionOptions {
  /** Use the GPU even for pools in ordinary memory (default: LLMEM_METAL=1). */
  force?: boolean;
}

let available: boolean | undefined;

/** True when libllmem is loaded with a Metal device and LLMEM_METAL is not "0". */
export function metalAttentionAvailable(): boolean {
  if (process.env.LLMEM_METAL === "0") return false;
  if (available === undefined) {
    const lib = nativeLib();
    available = lib !== null && lib.llmem_metal_available() === 1;
  }
  return available;
}

function fail(argument: string, message: string): never {
  throw new LlmemError("INVALID_ARGUMENT", message, { argument });
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
 * `pagedAttention` on the GPU when Metal is available and wanted (both pools inside Metal
 * buffers, `force`, or LLMEM_METAL=1), otherwise, or if the GPU fails, on the CPU. Returns
 * where it ran. Invalid arguments throw the same LlmemErrors either way.
 */
export function pagedAttentionMetal(
  a: PagedAttentionArgs,
  options: MetalAttentionOptions = {},
): "metal" | "cpu" {
  const format = checkForGpu(a);
  const lib = nativeLib();
  if (a.numTokens === 0 || lib === null || !metalAttentionAvailable()) {
    pagedAttention(a);
    return "cpu";
  }
  const kBytes = new Uint8Array(a.kPool.buffer, a.kPool.byteOffset, a.kPool.byteLength);
  const vBytes = new Uint8Array(a.vPool.buffer, a.vPool.byteOffset, a.vPool.byteLength);
  const kPtr = viewPtr("kPool", kBytes);
  const vPtr = viewPtr("vPool", vBytes);
  const inMetal =
    lib.llmem_metal_holds(kPtr, kBytes.length) === 1 && lib.llmem_metal_holds(vPtr, vBytes.length) === 1;
  if (!inMetal && options.force !== true && process.env.LLMEM_METAL !== "1") {
    pagedAttention(a);
    return "cpu";
  }
  const rc = lib.llmem_metal_paged_attention(
    FORMAT_CODE[format],
    viewPtr("query", a.query),
    a.numHeads,
    a.numKvHeads,
    a.headDim,
    kPtr,
    kBytes.length,
    vPtr,
    vBytes.length,
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
