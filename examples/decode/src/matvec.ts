/**
 * Where every weight matrix lives and how y = W x is computed. The loop only sees this
 * interface; @llmem/quant-kernels provides it (kernels.ts), native or TS.
 */
import type { Matrix } from "@llmem/quant-kernels";

export type WeightFormat = "f32" | "q8_0" | "q4_0";

/** A weight matrix as @llmem/quant-kernels holds it (the TS loop uses its f32 form only). */
export type WeightMatrix = Matrix;

export interface MatvecKernels {
  readonly name: string;
  readonly formats: readonly WeightFormat[];
  /** Converts a row-major f32 matrix to `format` (f32 may keep the view without copying). */
  prepare(format: WeightFormat, weights: Float32Array, rows: number, cols: number): WeightMatrix;
  /** y[0..rows) = W x[0..cols); must not allocate. */
  matvec(w: WeightMatrix, x: Float32Array, y: Float32Array): void;
  /** A prefill chunk: y[t·rows ..] = W x[t·cols ..] for t < n, each token as matvec gives it. */
  matmul(w: WeightMatrix, x: Float32Array, n: number, y: Float32Array): void;
  /** Optional: matvec for 2-3 matrices of one format and width over the same x, ys[k] exactly matvec(ws[k], x, ys[k]). */
  matvecParts?(ws: readonly WeightMatrix[], x: Float32Array, ys: readonly Float32Array[]): void;
  /**
   * Optional: matmul for 2-3 matrices of one format and width over the same chunk (a layer's Q, K
   * and V; its gate and up), ys[k] exactly matmul(ws[k], x, n, ys[k]), in one pass.
   */
  matmulParts?(ws: readonly WeightMatrix[], x: Float32Array, n: number, ys: readonly Float32Array[]): void;
  setThreads(n: number): void;
  threads(): number;
}
