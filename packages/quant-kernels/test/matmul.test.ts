import { afterAll, describe, expect, test } from "bun:test";
import { matmulScratchStride, nativeMatmulScratchStride } from "@llmem/native";
import {
  type Matrix,
  type MatrixFormat,
  matmul,
  matmulParts,
  matvec,
  prepareMatrix,
  setThreads,
} from "../src/index.ts";
import { codeOf, eachIsa, hasNative, nativeTest, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels matmul (batched prefill)");
const FORMATS: MatrixFormat[] = [
  "f32",
  "f16",
  "q8_0",
  "q4_0",
  "q4_K",
  "q6_K",
  "q5_0",
  "iq4_xs",
  "q2_K",
  "q3_K",
];
/** Formats whose native tiles give matvec's bits on every ISA (f32/f16 tiles sum in another order). */
const EXACT = new Set<MatrixFormat>(["q8_0", "q4_0", "q4_K", "q6_K", "q5_0", "iq4_xs", "q2_K", "q3_K"]);

afterAll(() => setThreads(1));

describe("matmul", () => {
  for (const format of FORMATS) {
    test(`${format}: each token's row of Y is matvec of that token (every ISA, 1-2 threads)`, () => {
      for (const [rows, cols, n] of [
        [5, 256, 1],
        [17, 256, 3],
        [70, 512, 9],
      ] as const) {
        const w = prepareMatrix(format, randomF32(rows * cols, rows, 1), rows, cols);
        const x = randomF32(n * cols, cols + n, 1);
        for (const threads of hasNative ? [1, 2] : [1]) {
          setThreads(threads);
          const check = (isa: string) => {
            const want = new Float32Array(rows);
            const y = new Float32Array(n * rows).fill(Number.NaN);
            matmul(w, x, n, y);
            for (let t = 0; t < n; t++) {
              matvec(w, x.subarray(t * cols, (t + 1) * cols), want);
              for (let r = 0; r < rows; r++) {
                const got = y[t * rows + r]!;
                if (EXACT.has(format) || isa === "scalar") expect(got).toBe(want[r]!);
                else expect(Math.abs(got - want[r]!)).toBeLessThanOrEqual(1e-6 * cols);
              }
            }
          };
          if (hasNative) eachIsa(check);
          else check("ts");
        }
        setThreads(1);
      }
    });
  }

  nativeTest("the binding's scratch stride is the library's", () => {
    for (const format of FORMATS)
      for (const cols of [256, 768, 4096]) {
        expect(matmulScratchStride(format, cols)).toBe(nativeMatmulScratchStride(format, cols));
      }
  });

  test("bad chunks throw LlmemError and leave y untouched", () => {
    const w = prepareMatrix("q8_0", randomF32(4 * 64), 4, 64);
    const y = new Float32Array(8).fill(9);
    const x = randomF32(2 * 64);
    expect(codeOf(() => matmul(w, x, 3, y))).toBe("INVALID_ARGUMENT"); // x holds 2 tokens
    expect(codeOf(() => matmul(w, randomF32(3 * 64), 3, y))).toBe("INVALID_ARGUMENT"); // y holds 2
    expect(codeOf(() => matmul(w, x, 0, y))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => matmul(w, x, 1.5, y))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => matmul({ ...w, rows: 5 } as Matrix, x, 2, y))).toBe("OUT_OF_BOUNDS");
    expect(y.every((v) => v === 9)).toBe(true);
  });
});

describe("matmulParts", () => {
  for (const format of FORMATS) {
    test(`${format}: each part's Y is exactly matmul of that matrix (every ISA, 1-2 threads)`, () => {
      for (const [rowsList, cols, n] of [
        [[5, 3, 7], 256, 3],
        [[70, 17], 512, 9],
        [[1], 256, 1],
      ] as const) {
        const ws = rowsList.map((rows, k) =>
          prepareMatrix(format, randomF32(rows * cols, 7 + k, 1), rows, cols),
        );
        const x = randomF32(n * cols, 3 + n, 1);
        for (const threads of hasNative ? [1, 2] : [1]) {
          setThreads(threads);
          const check = () => {
            const ys = ws.map((w) => new Float32Array(n * w.rows).fill(Number.NaN));
            matmulParts(ws, x, n, ys);
            ws.forEach((w, k) => {
              const want = new Float32Array(n * w.rows);
              matmul(w, x, n, want);
              expect(Array.from(ys[k]!)).toEqual(Array.from(want));
            });
          };
          if (hasNative) eachIsa(check);
          else check();
        }
        setThreads(1);
      }
    });
  }

  test("bad parts throw LlmemError and leave every y untouched", () => {
    const a = prepareMatrix("q8_0", randomF32(4 * 64), 4, 64);
    const b = prepareMatrix("q8_0", randomF32(3 * 64, 2), 3, 64);
    const other = prepareMatrix("q4_0", randomF32(3 * 64, 3), 3, 64);
    const wide = prepareMatrix("q8_0", randomF32(3 * 128, 4), 3, 128);
    const x = randomF32(2 * 64);
    const ya = new Float32Array(8).fill(9);
    const yb = new Float32Array(6).fill(9);
    expect(codeOf(() => matmulParts([a, other], x, 2, [ya, yb]))).toBe("INVALID_ARGUMENT"); // formats differ
    expect(codeOf(() => matmulParts([a, wide], x, 2, [ya, yb]))).toBe("INVALID_ARGUMENT"); // widths differ
    expect(codeOf(() => matmulParts([a, b], x, 2, [ya]))).toBe("INVALID_ARGUMENT"); // one y for two
    expect(codeOf(() => matmulParts([a, b], x, 2, [ya, yb.subarray(1)]))).toBe("INVALID_ARGUMENT"); // y short
    expect(codeOf(() => matmulParts([a, b], x.subarray(1), 2, [ya, yb]))).toBe("INVALID_ARGUMENT"); // x short
    expect(codeOf(() => matmulParts([], x, 2, []))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => matmulParts([a, b, a, b], x, 2, [ya, yb, ya, yb]))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => matmulParts([a, b], x, 0, [ya, yb]))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => matmulParts([a, { ...b, rows: 4 } as Matrix], x, 2, [ya, ya]))).toBe("OUT_OF_BOUNDS");
    expect(ya.every((v) => v === 9) && yb.every((v) => v === 9)).toBe(true);
  });
});
