/**
 * The chunk's element-wise steps (src/chunk-steps.ts) through libllmem give math.ts's bits:
 * RMSNorm (run.c and ggml), RoPE (adjacent and NEOX, partial dims), SwiGLU (both silus, over a
 * wide range of inputs, so the double exp's rounding is exercised), the residual add.
 */
import { describe, expect, test } from "bun:test";
import { isLlmemError } from "@llmem/core";
import { native, nativeRmsnormRows, nativeRopeRows, nativeSwiglu } from "@llmem/native";
import { setThreads } from "@llmem/quant-kernels";
import { ChunkBuffers, firstRows } from "../src/chunk.ts";
import { addAll, normRows, ropeRows, swigluAll } from "../src/chunk-steps.ts";
import type { ModelConfig } from "../src/config.ts";
import {
  accumulate,
  rmsnorm,
  rmsnormGgml,
  rope,
  ropeGgml,
  ropeTable,
  ropeTableGgml,
  swiglu,
  swigluGgml,
} from "../src/math.ts";
import type { Numerics } from "../src/model-weights.ts";

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** Deterministic values spread over [-range, range] (xorshift). */
function values(n: number, range: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * range;
  }
  return out;
}

const config: ModelConfig = {
  dim: 96,
  hiddenDim: 160,
  nLayers: 1,
  nHeads: 6,
  nKvHeads: 2,
  vocabSize: 32,
  seqLen: 64,
} as ModelConfig;
const n = 13; // chunk rows (capacity 16: the steps touch only the first n)
const headSize = 16;
const numerics: Numerics[] = [
  { style: "runc", rmsEps: 1e-5, ropeTheta: 10000, ropeDims: headSize, ropeNeox: false },
  { style: "ggml", rmsEps: 1e-6, ropeTheta: 500000, ropeDims: headSize, ropeNeox: false },
  { style: "ggml", rmsEps: 1e-5, ropeTheta: 1000000, ropeDims: headSize, ropeNeox: true },
  { style: "ggml", rmsEps: 1e-5, ropeTheta: 10000, ropeDims: 8, ropeNeox: true }, // partial rotation
];

describe.if(native.available)("chunk steps: libllmem's bits are math.ts's", () => {
  for (const nm of numerics) {
    const label = `${nm.style}${nm.ropeNeox ? " neox" : ""} dims ${nm.ropeDims}`;
    test(`${label}: RMSNorm and RoPE over a chunk's rows`, () => {
      const b = new ChunkBuffers(config, 16);
      b.x.all.set(values(b.x.all.length, 3, 7));
      b.xb.all.fill(Number.NaN); // past row n nothing may be written
      const weight = values(config.dim, 2, 11);
      normRows(nm, b.xb, b.x, weight, n);
      const want = new Float32Array(config.dim);
      for (let t = 0; t < n; t++) {
        if (nm.style === "ggml") rmsnormGgml(want, b.x.rows[t]!, weight, config.dim, nm.rmsEps);
        else rmsnorm(want, b.x.rows[t]!, weight, config.dim);
        expect(bits(b.xb.rows[t]!)).toEqual(bits(want));
      }
      expect(b.xb.rows[n]!.every(Number.isNaN)).toBe(true);
      // in place (out = x), as the final norm runs
      normRows(nm, b.x, b.x, weight, n);
      expect(bits(firstRows(b.x, n))).toEqual(bits(firstRows(b.xb, n)));

      for (let t = 0; t < n; t++) {
        if (nm.style === "ggml")
          ropeTableGgml(37 + t, nm.ropeDims, nm.ropeTheta, b.cos.rows[t]!, b.sin.rows[t]!);
        else ropeTable(37 + t, headSize, b.cos.rows[t]!, b.sin.rows[t]!);
      }
      b.q.all.set(values(b.q.all.length, 4, 3));
      const ref = b.q.all.slice();
      ropeRows(nm, b.q, n, headSize, b.cos, b.sin);
      for (let t = 0; t < n; t++) {
        const r = ref.subarray(t * config.dim, (t + 1) * config.dim);
        if (nm.style === "ggml")
          ropeGgml(r, config.dim, headSize, nm.ropeDims, nm.ropeNeox, b.cos.rows[t]!, b.sin.rows[t]!);
        else rope(r, config.dim, headSize, b.cos.rows[t]!, b.sin.rows[t]!);
      }
      expect(bits(b.q.all)).toEqual(bits(ref)); // rows past n untouched by both
    });
  }

  for (const style of ["runc", "ggml"] as const) {
    test(`${style}: SwiGLU over 1M values in [-90, 90] (exp's rounding), and the residual add`, () => {
      const count = 1 << 20;
      const gate = values(count, 90, 5);
      // near zero and the overflow/underflow edges, where exp's rounding matters most
      gate.set([0, -0, 1e-30, -1e-30, 88.7, -88.7, 89, -89, 104, -104, 1e-7, Number.MIN_VALUE], 0);
      const up = values(count, 2, 9);
      const want = gate.slice();
      if (style === "ggml") swigluGgml(want, up, count);
      else swiglu(want, up, count);
      const got = gate.slice();
      swigluAll({ style, rmsEps: 1e-5, ropeTheta: 1e4, ropeDims: 16, ropeNeox: false }, got, up, count);
      const g = bits(got);
      const w = bits(want);
      let differ = 0;
      for (let i = 0; i < count; i++) if (g[i] !== w[i]) differ++;
      expect(differ).toBe(0);

      const x = values(4099, 50, 1);
      const y = values(4099, 50, 2);
      const sum = x.slice();
      accumulate(sum, y, 4099);
      addAll(x, y, 4099);
      expect(bits(x)).toEqual(bits(sum));
    });
  }

  test("2 threads (the steps split their rows over the pool): the same bits", () => {
    setThreads(2);
    try {
      const rows = 203; // 203 × 96 floats: enough to split; not a multiple of the 4-row groups
      const dim = 96;
      const x = values(rows * dim, 3, 21);
      const weight = values(dim, 2, 22);
      for (const style of ["runc", "ggml"] as const) {
        const nm: Numerics = { style, rmsEps: 1e-6, ropeTheta: 1e4, ropeDims: 16, ropeNeox: false };
        const rowsOf = (a: Float32Array) => ({
          all: a,
          rows: Array.from({ length: rows }, (_, t) => a.subarray(t * dim, (t + 1) * dim)),
          width: dim,
        });
        const got = rowsOf(new Float32Array(rows * dim));
        normRows(nm, got, rowsOf(x), weight, rows);
        const want = new Float32Array(dim);
        for (let t = 0; t < rows; t++) {
          if (style === "ggml") rmsnormGgml(want, x.subarray(t * dim, (t + 1) * dim), weight, dim, nm.rmsEps);
          else rmsnorm(want, x.subarray(t * dim, (t + 1) * dim), weight, dim);
          expect(bits(got.rows[t]!)).toEqual(bits(want));
        }
        const gate = values(100_003, 30, 23);
        const up = values(100_003, 2, 24);
        const ref = gate.slice();
        if (style === "ggml") swigluGgml(ref, up, ref.length);
        else swiglu(ref, up, ref.length);
        swigluAll(nm, gate, up, gate.length);
        expect(bits(gate)).toEqual(bits(ref));
      }
    } finally {
      setThreads(1);
    }
  });

  test("bad shapes are refused before C sees a pointer", () => {
    const x = new Float32Array(64);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isLlmemError(e) ? e.code : "not an LlmemError";
      }
      return "no error";
    };
    expect(code(() => nativeRmsnormRows("runc", x, new Float32Array(32), 3, 32, 1e-5, x))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(code(() => nativeRmsnormRows("other" as never, x, new Float32Array(32), 2, 32, 1e-5, x))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(code(() => nativeRmsnormRows("runc", x, new Float32Array(32), 2, 0, 1e-5, x))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(code(() => nativeRopeRows(x, 2, 32, 16, 18, false, x, x, 9))).toBe("INVALID_ARGUMENT"); // dims > head
    expect(code(() => nativeRopeRows(x, 2, 30, 16, 16, false, x, x, 8))).toBe("INVALID_ARGUMENT"); // ragged heads
    expect(code(() => nativeRopeRows(x, 3, 32, 16, 16, false, new Float32Array(16), x, 8))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(code(() => nativeSwiglu("ggml", x, new Float32Array(63), 64))).toBe("OUT_OF_BOUNDS");
    expect(code(() => nativeSwiglu("ggml", x, x, -1))).toBe("INVALID_ARGUMENT");
  });
});
