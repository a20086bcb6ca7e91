/**
 * Metal (macOS) versions of dequantizeInto and matvec, for large inputs: buffers are copied to
 * the GPU and back on every call. Dequantized values are bit-identical to the CPU paths; matvec
 * equals the CPU result up to the f32 summation order. Elsewhere (or without a GPU) both throw
 * UNSUPPORTED; `metalAvailable()` says which.
 */
import { canonicalFormat, LlmemError } from "@llmem/core";
import { checkedLength, metalAvailable, metalDequantize, metalMatvec } from "@llmem/native";
import { blockBytes, checkMatrixFormat, wholeBlocks } from "./formats.ts";
import { checkMatrix, checkVector, type Matrix, snapshotMatrix } from "./matvec.ts";

/** True when Metal can be used (@llmem/native's one check: libllmem, a device, LLMEM_METAL not 0). */
export { metalAvailable };

const METAL_DEQUANT = ["q8_0", "q4_0", "q4_K", "q6_K"] as const;
type MetalDequantFormat = (typeof METAL_DEQUANT)[number];

/** dequantizeInto on the GPU, for "q8_0", "q4_0", "q4_K" and "q6_K" (lower case accepted). */
export function dequantizeIntoMetal(name: MetalDequantFormat, bytes: Uint8Array, dst: Float32Array): void {
  const format = canonicalFormat(name) as MetalDequantFormat;
  if (!METAL_DEQUANT.includes(format)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `format must be one of ${METAL_DEQUANT.join(", ")} on Metal, got ${JSON.stringify(name)}`,
      {
        argument: "format",
      },
    );
  }
  // Lengths as the engine counts them (see @llmem/native views.ts): not a hot path, so always the exact way.
  const have = checkedLength("bytes", bytes, "Uint8Array");
  const count = checkedLength("dst", dst, "Float32Array");
  const nb = wholeBlocks("dst", format, count);
  const need = nb * blockBytes(format);
  if (have < need) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `bytes holds ${have} bytes, ${count} ${format} values need ${need}`,
      {
        argument: "bytes",
      },
    );
  }
  // Whole views: the FFI passes each one's first element, and the checks above bound C.
  metalDequantize(format, bytes, dst, count);
}

/** matvec on the GPU (same Matrix and rules as matvec). */
export function matvecMetal(matrix: Matrix, x: Float32Array, y: Float32Array): void {
  const w = snapshotMatrix(matrix);
  const elements = checkMatrix(w);
  checkVector("x", x, w.cols, "w.cols");
  checkVector("y", y, w.rows, "w.rows");
  metalMatvec(checkMatrixFormat(w.format), w.data, elements, w.rows, w.cols, x, y);
}
