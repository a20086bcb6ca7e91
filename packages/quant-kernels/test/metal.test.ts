import { expect, test } from "bun:test";
import {
  dequantize,
  dequantizeIntoMetal,
  matvec,
  matvecMetal,
  metalAvailable,
  prepareMatrix,
  quantize,
} from "../src/index.ts";
import { codeOf, randomF32 } from "./helpers.ts";

const onMetal = metalAvailable();
if (!onMetal) console.log("[@llmem/quant-kernels metal] no Metal device here: GPU cross-checks skipped");

test.skipIf(onMetal)("without Metal, the Metal entry points say so", () => {
  expect(codeOf(() => dequantizeIntoMetal("q8_0", new Uint8Array(34), new Float32Array(32)))).toBe(
    "UNSUPPORTED",
  );
  const w = prepareMatrix("f32", randomF32(64), 2, 32);
  expect(codeOf(() => matvecMetal(w, randomF32(32), new Float32Array(2)))).toBe("UNSUPPORTED");
});

test("Metal arguments are validated like the CPU ones", () => {
  expect(codeOf(() => dequantizeIntoMetal("q4_1" as "q8_0", new Uint8Array(34), new Float32Array(32)))).toBe(
    "INVALID_ARGUMENT",
  );
  expect(codeOf(() => dequantizeIntoMetal("q8_0", new Uint8Array(33), new Float32Array(32)))).toBe(
    "OUT_OF_BOUNDS",
  );
  expect(codeOf(() => dequantizeIntoMetal("q8_0", new Uint8Array(34), new Float32Array(31)))).toBe(
    "INVALID_ARGUMENT",
  );
  const w = prepareMatrix("q8_0", randomF32(64), 2, 32);
  expect(codeOf(() => matvecMetal({ ...w, rows: 3 }, randomF32(32), new Float32Array(3)))).toBe(
    "OUT_OF_BOUNDS",
  );
});

test.skipIf(!onMetal)(
  "Metal dequantize is bit-identical to the CPU; matvec agrees within summation order",
  () => {
    const x = randomF32(32 * 1000, 3, 2);
    for (const f of ["q8_0", "q4_0", "q4_K", "q6_K"] as const) {
      const q = quantize(f, x);
      const gpu = new Float32Array(x.length);
      dequantizeIntoMetal(f, q, gpu);
      expect(Array.from(gpu)).toEqual(Array.from(dequantize(f, q, x.length)));
    }
    for (const f of ["f32", "f16", "q8_0", "q4_0", "q4_K", "q6_K"] as const) {
      const w = prepareMatrix(f, randomF32(300 * 256, 4), 300, 256);
      const v = randomF32(256, 5);
      const cpu = new Float32Array(300);
      const gpu = new Float32Array(300);
      matvec(w, v, cpu);
      matvecMetal(w, v, gpu);
      for (let r = 0; r < 300; r++) expect(Math.abs(gpu[r]! - cpu[r]!)).toBeLessThan(1e-3);
    }
  },
);
