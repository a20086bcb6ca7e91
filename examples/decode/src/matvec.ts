/**
 * Where every weight matrix lives and how y = W x is computed. The loop only sees this
 * interface, so the kernels (pure TS here, @llmem/quant-kernels when present) are pluggable.
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
  setThreads(n: number): void;
  threads(): number;
}

/** The fallback when no kernel package is available: f32 only, one thread. */
export const tsKernels: MatvecKernels = {
  name: "ts",
  formats: ["f32"],
  prepare(format, weights, rows, cols) {
    if (format !== "f32") throw new Error(`ts kernels hold f32 weights only, not ${format}`);
    return { format, rows, cols, data: weights };
  },
  matvec(w, x, y) {
    const data = w.data as Float32Array;
    const n = w.cols;
    for (let i = 0; i < w.rows; i++) {
      const base = i * n;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        a0 += data[base + j]! * x[j]!;
        a1 += data[base + j + 1]! * x[j + 1]!;
        a2 += data[base + j + 2]! * x[j + 2]!;
        a3 += data[base + j + 3]! * x[j + 3]!;
      }
      for (; j < n; j++) a0 += data[base + j]! * x[j]!;
      y[i] = a0 + a1 + (a2 + a3);
    }
  },
  setThreads() {},
  threads: () => 1,
};
