/**
 * The matvec kernels: @llmem/quant-kernels (native SIMD, quantized formats and threads when
 * libllmem is loaded; its TS path otherwise).
 */
import {
  getThreads,
  matmul,
  matmulParts,
  matvec,
  matvecParts,
  prepareMatrix,
  setThreads,
} from "@llmem/quant-kernels";
import type { MatvecKernels } from "./matvec.ts";

/**
 * f32 matrices are views of the checkpoint (prepareMatrix would copy them); a matrix whose
 * width is not a whole number of 32-value blocks stays f32 (a copy) when a block format is asked for.
 */
export const quantKernels: MatvecKernels = {
  name: "quant-kernels",
  formats: ["f32", "q8_0", "q4_0"],
  prepare: (format, weights, rows, cols) => {
    if (format === "f32") return { format, rows, cols, data: weights };
    // Kept f32 but copied, so a quantized model holds no view of the checkpoint buffer.
    if (cols % 32 !== 0) return { format: "f32", rows, cols, data: weights.slice() };
    return prepareMatrix(format, weights, rows, cols);
  },
  matvec,
  matvecParts,
  matmul,
  matmulParts,
  setThreads,
  threads: getThreads,
};
