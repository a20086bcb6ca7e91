import { describe, expect, test } from "bun:test";
import {
  attentionScores,
  attentionWeightedSum,
  dequantize,
  fromBf16,
  fromF16,
  quantize,
  type RowFormat,
  referenceAttention,
  toBf16,
  toF16,
} from "../src/index.ts";
import { codeOf, eachIsa, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels attention");
const FORMATS: RowFormat[] = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"];

/** A [token][kvHead][headDim] cache of `tokens` tokens stored in `format`, as one typed array. */
function cache(format: RowFormat, tokens: number, heads: number, headDim: number, seed: number) {
  const f32 = randomF32(tokens * heads * headDim, seed, 1);
  let data: Float32Array | Uint16Array | Uint8Array;
  let decoded: Float32Array;
  if (format === "f32") {
    data = f32;
    decoded = f32;
  } else if (format === "f16") {
    data = toF16(f32);
    decoded = fromF16(data);
  } else if (format === "bf16") {
    data = toBf16(f32);
    decoded = fromBf16(data);
  } else {
    data = quantize(format, f32);
    decoded = dequantize(format, data, f32.length);
  }
  const rowBytes = data.byteLength / (tokens * heads);
  return { data, decoded, rowBytes };
}

describe("attention building blocks", () => {
  for (const format of FORMATS) {
    for (const headDim of format === "f32" || format === "f16" || format === "bf16"
      ? [1, 7, 64, 100]
      : [32, 64, 128]) {
      test(`${format}, headDim ${headDim}: scores and weighted sum over one head of an interleaved cache`, () => {
        const tokens = 37;
        const heads = 3;
        const head = 1;
        const { data, decoded, rowBytes } = cache(format, tokens, heads, headDim, headDim + tokens);
        const layout = {
          count: tokens - 2,
          headDim,
          offsetBytes: (2 * heads + head) * rowBytes,
          strideBytes: heads * rowBytes,
        };
        const q = randomF32(headDim, 99);
        const scale = 1 / Math.sqrt(headDim);
        // exact reference from the decoded values
        const exactScores = Array.from({ length: layout.count }, (_, t) => {
          let s = 0;
          for (let i = 0; i < headDim; i++) s += q[i]! * decoded[((t + 2) * heads + head) * headDim + i]!;
          return s * scale;
        });
        const want = new Float32Array(layout.count + 5);
        referenceAttention.scores(format, q, data, { ...layout, scale }, want, 5);
        for (let t = 0; t < layout.count; t++)
          expect(Math.abs(want[5 + t]! - exactScores[t]!)).toBeLessThan(1e-4 * headDim);

        const w = randomF32(layout.count + 4, 3, 1);
        const base = randomF32(headDim, 4, 1);
        const wantSum = base.slice();
        referenceAttention.weightedSum(format, w, data, { ...layout, weightsOffset: 4 }, wantSum);
        for (let i = 0; i < headDim; i++) {
          let s = base[i]!;
          for (let t = 0; t < layout.count; t++)
            s += w[4 + t]! * decoded[((t + 2) * heads + head) * headDim + i]!;
          expect(Math.abs(wantSum[i]! - s)).toBeLessThan(1e-4 * layout.count);
        }

        const check = (isa: string) => {
          const out = new Float32Array(layout.count + 5);
          attentionScores(format, q, data, { ...layout, scale }, out, 5);
          for (let t = 0; t < layout.count; t++) {
            if (isa === "scalar") expect(out[5 + t]).toBe(want[5 + t]!);
            else expect(Math.abs(out[5 + t]! - want[5 + t]!)).toBeLessThan(1e-5 * headDim);
          }
          const acc = base.slice();
          attentionWeightedSum(format, w, data, { ...layout, weightsOffset: 4 }, acc);
          for (let i = 0; i < headDim; i++) {
            if (isa === "scalar") expect(acc[i]).toBe(wantSum[i]!);
            else expect(Math.abs(acc[i]! - wantSum[i]!)).toBeLessThan(1e-5 * layout.count);
          }
        };
        check("public");
        eachIsa(check);
      });
    }
  }

  test("the weighted sum accumulates block by block (paged attention)", () => {
    const { data, rowBytes } = cache("q8_0", 16, 1, 64, 5);
    const w = randomF32(16, 6);
    const whole = new Float32Array(64);
    attentionWeightedSum(
      "q8_0",
      w,
      data,
      { count: 16, headDim: 64, offsetBytes: 0, strideBytes: rowBytes },
      whole,
    );
    const paged = new Float32Array(64);
    for (let b = 0; b < 4; b++)
      attentionWeightedSum(
        "q8_0",
        w,
        data,
        { count: 4, headDim: 64, offsetBytes: b * 4 * rowBytes, strideBytes: rowBytes, weightsOffset: b * 4 },
        paged,
      );
    for (let i = 0; i < 64; i++) expect(Math.abs(paged[i]! - whole[i]!)).toBeLessThan(1e-5);
  });

  test("hostile layouts are rejected before any memory is touched", () => {
    const keys = new Float32Array(4 * 64);
    const q = new Float32Array(64);
    const out = new Float32Array(4).fill(3);
    const ok = { count: 4, headDim: 64, offsetBytes: 0, strideBytes: 256, scale: 1 };
    const bad = (o: Partial<typeof ok>, fmt: RowFormat = "f32", k: Float32Array | Uint8Array = keys) =>
      codeOf(() => attentionScores(fmt, q, k, { ...ok, ...o }, out));
    expect(bad({})).toBeUndefined();
    out.fill(3);
    expect(bad({ count: 5 })).toBe("OUT_OF_BOUNDS"); // out too short, and keys too
    expect(bad({ offsetBytes: 4 })).toBe("OUT_OF_BOUNDS"); // last row runs past the end
    expect(bad({ strideBytes: 2 ** 50 })).toBe("OUT_OF_BOUNDS");
    expect(bad({ offsetBytes: 2 })).toBe("MISALIGNED");
    expect(bad({ strideBytes: 258 })).toBe("MISALIGNED");
    expect(bad({ count: -1 })).toBe("OUT_OF_RANGE");
    expect(bad({ headDim: 0 })).toBe("OUT_OF_RANGE");
    expect(bad({ headDim: 65 })).toBe("OUT_OF_BOUNDS"); // query too short (and keys' last row)
    expect(bad({ scale: Number.NaN })).toBe("INVALID_ARGUMENT");
    expect(bad({ offsetBytes: -4 })).toBe("OUT_OF_RANGE");
    expect(bad({ headDim: 48 }, "q8_0", new Uint8Array(4096))).toBe("INVALID_ARGUMENT");
    expect(bad({}, "q8_1" as RowFormat)).toBe("INVALID_ARGUMENT"); // a quant format, but not a row format
    expect(bad({ offsetBytes: 1 }, "bf16", new Uint8Array(4 * 128 + 1))).toBe("MISALIGNED");
    expect(codeOf(() => attentionScores("f32", q, keys, ok, out, 1))).toBe("OUT_OF_BOUNDS");
    expect(out.every((v) => v === 3)).toBe(true);
    const acc = new Float32Array(64).fill(1);
    const w = new Float32Array(4);
    expect(codeOf(() => attentionWeightedSum("f32", w, keys, { ...ok, weightsOffset: 1 }, acc))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(codeOf(() => attentionWeightedSum("f32", w, keys, ok, new Float32Array(63)))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(
      codeOf(() =>
        attentionWeightedSum("q4_1", w, new Uint8Array(79), { ...ok, headDim: 32, strideBytes: 20 }, acc),
      ),
    ).toBe("OUT_OF_BOUNDS");
    expect(acc.every((v) => v === 1)).toBe(true);
  });

  test("count 0 writes nothing", () => {
    const out = new Float32Array(2).fill(7);
    attentionScores(
      "q4_0",
      new Float32Array(32),
      new Uint8Array(0),
      { count: 0, headDim: 32, offsetBytes: 0, strideBytes: 18, scale: 1 },
      out,
    );
    expect(Array.from(out)).toEqual([7, 7]);
  });
});
