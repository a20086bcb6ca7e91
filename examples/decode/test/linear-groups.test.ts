import { describe, expect, test } from "bun:test";
import { prepareMatrix } from "@llmem/quant-kernels";
import { quantKernels } from "../src/kernels.ts";
import {
  applyLinear,
  applyLinearChunk,
  applyLinears,
  applyLinearsChunk,
  LinearScratch,
} from "../src/linear.ts";
import type { MatvecKernels } from "../src/matvec.ts";
import type { Linear } from "../src/model-weights.ts";

function values(n: number, seed: number): Float32Array {
  return new Float32Array(n).map((_, i) => Math.sin(i * 0.37 + seed) * 0.8);
}

/** A layer's Q/K/V-like group: the first two share a pass, the third (another format) runs alone. */
function group(
  cols: number,
  formats: readonly ("f32" | "q8_0" | "q4_0")[],
  bias: boolean,
  round?: "f16",
): Linear[] {
  return formats.map((format, k) => {
    const rows = 5 + 3 * k;
    const w = prepareMatrix(format, values(rows * cols, k + 1), rows, cols);
    return { w, round, bias: bias ? values(rows, 9 + k) : undefined };
  });
}

/** The kernels without their fused calls: every Linear through matvec / matmul alone. */
const separate: MatvecKernels = { ...quantKernels, matvecParts: undefined, matmulParts: undefined };

describe("applyLinears / applyLinearsChunk", () => {
  const cases: [string, Linear[]][] = [
    ["all alike", group(64, ["q8_0", "q8_0", "q8_0"], false)],
    ["a different last matrix", group(64, ["q8_0", "q8_0", "q4_0"], true)],
    ["a different first matrix", group(64, ["q4_0", "q8_0", "q8_0"], true)],
    ["f32 with f16-rounded input", group(64, ["f32", "f32"], true, "f16")],
  ];
  for (const [name, ms] of cases) {
    test(`${name}: each output is exactly applyLinear's / applyLinearChunk's alone`, () => {
      const cols = 64;
      const scratch = new LinearScratch(4 * cols);
      const x = values(cols, 3);
      const got = ms.map((m) => new Float32Array(m.w.rows).fill(Number.NaN));
      applyLinears(quantKernels, ms, x, got, scratch);
      for (const [k, m] of ms.entries()) {
        const want = new Float32Array(m.w.rows);
        applyLinear(separate, m, x, want, scratch);
        expect(Array.from(got[k]!)).toEqual(Array.from(want));
      }
      const n = 4;
      const xs = values(n * cols, 4);
      const gotChunk = ms.map((m) => new Float32Array(n * m.w.rows).fill(Number.NaN));
      applyLinearsChunk(quantKernels, ms, xs, n, gotChunk, scratch);
      for (const [k, m] of ms.entries()) {
        const want = new Float32Array(n * m.w.rows);
        applyLinearChunk(separate, m, xs, n, want, scratch);
        expect(Array.from(gotChunk[k]!)).toEqual(Array.from(want));
      }
    });
  }
});
