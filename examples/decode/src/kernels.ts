/**
 * Picks the matvec kernels: @llmem/quant-kernels (native SIMD, quantized formats, threads)
 * when it provides the contract's prepareMatrix/matvec, else the pure-TS f32 fallback.
 */
import { LlmemError } from "@llmem/core";
import { isNativeAvailable } from "@llmem/native";
import * as quant from "@llmem/quant-kernels";
import type { MatvecKernels, WeightFormat, WeightMatrix } from "./matvec.ts";
import { tsKernels } from "./matvec.ts";

/** The part of the quant-kernels contract the loop uses (checked at run time, so older builds still load). */
interface QuantMatvec {
  prepareMatrix(format: WeightFormat, weights: Float32Array, rows: number, cols: number): WeightMatrix;
  matvec(w: WeightMatrix, x: Float32Array, y: Float32Array): void;
  setThreads(n: number): void;
  getThreads(): number;
}

function quantMatvec(): QuantMatvec | null {
  const q = quant as unknown as Partial<QuantMatvec>;
  return typeof q.prepareMatrix === "function" && typeof q.matvec === "function" ? (q as QuantMatvec) : null;
}

/**
 * f32 matrices are views of the checkpoint (prepareMatrix would copy them); a matrix whose
 * width is not a whole number of 32-value blocks stays f32 (a copy) when a block format is asked for.
 */
export function quantKernels(): MatvecKernels | null {
  const q = quantMatvec();
  if (!q) return null;
  return {
    name: "quant-kernels",
    formats: ["f32", "q8_0", "q4_0"],
    prepare: (format, weights, rows, cols) => {
      if (format === "f32") return { format, rows, cols, data: weights };
      // Kept f32 but copied, so a quantized model holds no view of the checkpoint buffer.
      if (cols % 32 !== 0) return { format: "f32", rows, cols, data: weights.slice() };
      return q.prepareMatrix(format, weights, rows, cols);
    },
    matvec: (w, x, y) => q.matvec(w, x, y),
    setThreads: (n) => (typeof q.setThreads === "function" ? q.setThreads(n) : undefined),
    threads: () => (typeof q.getThreads === "function" ? q.getThreads() : 1),
  };
}

/** Native quant-kernels when libllmem is loaded; without it, the TS f32 loop is faster than their reference path. */
export function selectKernels(format: WeightFormat, threads: number): MatvecKernels {
  const q = quantKernels();
  const k = q && (isNativeAvailable() || format !== "f32") ? q : tsKernels;
  if (!k.formats.includes(format)) {
    throw new LlmemError(
      "UNSUPPORTED",
      `--weights ${format} needs the quantized matvec of @llmem/quant-kernels, not available in this build`,
    );
  }
  k.setThreads(threads);
  return k;
}
