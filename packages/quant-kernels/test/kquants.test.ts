/**
 * GGML's K-quants (q8_K, q2_K, q3_K, q4_K, q5_K, q6_K) against vectors made by ggml itself (native/test/golden,
 * see its README): the TS reference and every native ISA quantize byte for byte as
 * quantize_row_*_ref, dequantize bit for bit as dequantize_row_*, and dot within f32
 * summation-order tolerance of ggml's scalar ggml_vec_dot_*_q8_K.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  dequantizeInto,
  dotQ2_KQ8_K,
  dotQ3_KQ8_K,
  dotQ4_KQ8_K,
  dotQ5_KQ8_K,
  dotQ6_KQ8_K,
  type Matrix,
  matvec,
  matvecReference,
  prepareMatrix,
  type QuantFormat,
  quantize,
  quantizedBytes,
  quantizeInto,
  reference,
  referenceDot,
} from "../src/index.ts";
import { codeOf, eachIsa, hasNative, nativeTest, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels kquants");
const GOLDEN = join(import.meta.dir, "../../../native/test/golden");
const QK_K = 256;
const NBLK = 64;
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(GOLDEN, name)));
const inputs = new Float32Array(read("inputs.f32").buffer);
const FORMATS = ["q8_K", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"] as const;
const BYTES = { q8_K: 292, q2_K: 84, q3_K: 110, q4_K: 144, q5_K: 176, q6_K: 210 } as const;
const DOTS = {
  q2_K: dotQ2_KQ8_K,
  q3_K: dotQ3_KQ8_K,
  q4_K: dotQ4_KQ8_K,
  q5_K: dotQ5_KQ8_K,
  q6_K: dotQ6_KQ8_K,
} as const;

/** FNV-1a 64 of one block's 256 dequantized f32 bit patterns (the generator's check). */
function fnvBlock(y: Float32Array, b: number): bigint {
  const bytes = new Uint8Array(y.buffer, y.byteOffset + b * QK_K * 4, QK_K * 4);
  let h = 0xcbf29ce484222325n;
  for (const v of bytes) h = ((h ^ BigInt(v)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}
const goldenHashes = (f: string): BigUint64Array => new BigUint64Array(read(`${f}.deq.fnv`).buffer);

function firstBadBlock(got: Uint8Array, want: Uint8Array, bytes: number): number {
  for (let b = 0; b < NBLK; b++) {
    for (let i = 0; i < bytes; i++) if (got[b * bytes + i] !== want[b * bytes + i]) return b;
  }
  return -1;
}

describe.each(FORMATS)("%s against ggml's golden vectors", (format) => {
  const want = read(`${format}.bin`);
  const hashes = goldenHashes(format);

  test("TS reference quantize is byte-identical to quantize_row_ref", () => {
    const got = new Uint8Array(NBLK * BYTES[format]);
    reference.quantizeInto(format, inputs, got);
    expect(firstBadBlock(got, want, BYTES[format])).toBe(-1);
  });

  test("TS reference dequantize is bit-identical to dequantize_row", () => {
    const y = new Float32Array(NBLK * QK_K);
    reference.dequantizeInto(format, want, y);
    const bad = Array.from({ length: NBLK }, (_, b) => b).filter((b) => fnvBlock(y, b) !== hashes[b]);
    expect(bad).toEqual([]);
  });

  test.if(hasNative)("every native ISA: quantize and dequantize identical to ggml", () => {
    const seen: string[] = [];
    eachIsa((isa) => {
      const got = new Uint8Array(NBLK * BYTES[format]);
      quantizeInto(format, inputs, got);
      expect([isa, firstBadBlock(got, want, BYTES[format])]).toEqual([isa, -1]);
      const y = new Float32Array(NBLK * QK_K);
      dequantizeInto(format, want, y);
      const bad = Array.from({ length: NBLK }, (_, b) => b).filter((b) => fnvBlock(y, b) !== hashes[b]);
      expect([isa, bad]).toEqual([isa, []]);
      seen.push(isa);
    });
    console.log(`[kquants] ${format} golden quantize/dequantize on: ${seen.map((s) => `[${s}]`).join(" ")}`);
  });
});

describe("K-quant dots against ggml's scalar ggml_vec_dot_*_q8_K", () => {
  const q8 = read("q8_K.bin");
  // exact: ggml's scalar dot folds each block as ours does (Q2_K, Q3_K), so equal bits are required.
  const pairs = [
    { name: "q2_K", w: read("q2_K.bin"), dot: dotQ2_KQ8_K, ref: referenceDot.dotQ2_KQ8_K, exact: true },
    { name: "q3_K", w: read("q3_K.bin"), dot: dotQ3_KQ8_K, ref: referenceDot.dotQ3_KQ8_K, exact: true },
    { name: "q4_K", w: read("q4_K.bin"), dot: dotQ4_KQ8_K, ref: referenceDot.dotQ4_KQ8_K, exact: false },
    { name: "q5_K", w: read("q5_K.bin"), dot: dotQ5_KQ8_K, ref: referenceDot.dotQ5_KQ8_K, exact: false },
    { name: "q6_K", w: read("q6_K.bin"), dot: dotQ6_KQ8_K, ref: referenceDot.dotQ6_KQ8_K, exact: false },
  ] as const;
  for (const p of pairs) {
    test(`${p.name}·q8_K: rows of 4 blocks`, () => {
      const want = new Float32Array(read(`dot_${p.name}_q8_K.f32`).buffer);
      const wb = BYTES[p.name];
      for (let i = 0; i < NBLK / 4; i++) {
        const a = (i + 5) % (NBLK / 4);
        const x = p.w.subarray(4 * i * wb, 4 * (i + 1) * wb);
        const y = q8.subarray(4 * a * 292, 4 * (a + 1) * 292);
        // Tolerance: both sides form the same exact integer sums; only the order of the f32
        // accumulation of ~40 per-block terms differs, each rounding within 2^-24 of Σ|x_i·y_i|.
        const dx = new Float32Array(4 * QK_K);
        const dy = new Float32Array(4 * QK_K);
        reference.dequantizeInto(p.name, x, dx);
        reference.dequantizeInto("q8_K", y, dy);
        let mag = 0;
        for (let j = 0; j < 4 * QK_K; j++) mag += Math.abs(dx[j]! * dy[j]!);
        const tol = p.exact ? 0 : 64 * 2 ** -24 * mag + 1e-30;
        const ref = p.ref(x, y, 4 * QK_K);
        expect(Math.abs(ref - want[i]!)).toBeLessThanOrEqual(tol);
        // Native paths: bit-identical to the TS reference (same per-block fold).
        eachIsa((isa) => expect([isa, p.dot(x, y, 4 * QK_K)]).toEqual([isa, ref]));
      }
    });
  }
});

describe("K-quant API", () => {
  test("lower-case names are accepted and mean the same format", () => {
    const x = randomF32(512, 7);
    expect(quantize("q4_k" as QuantFormat, x)).toEqual(quantize("q4_K", x));
    expect(quantizedBytes("q6_k" as QuantFormat, 512)).toBe(2 * 210);
    expect(quantize("q5_k" as QuantFormat, x)).toEqual(quantize("q5_K", x));
    expect(quantizedBytes("q5_k" as QuantFormat, 512)).toBe(2 * 176);
    expect(quantize("q2_k" as QuantFormat, x)).toEqual(quantize("q2_K", x));
    expect(quantizedBytes("q2_k" as QuantFormat, 512)).toBe(2 * 84);
    expect(quantize("q3_k" as QuantFormat, x)).toEqual(quantize("q3_K", x));
    expect(quantizedBytes("q3_k" as QuantFormat, 512)).toBe(2 * 110);
  });

  test("partial super-blocks and short buffers are refused before C runs", () => {
    expect(codeOf(() => quantize("q4_K", new Float32Array(128)))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => quantizeInto("q6_K", new Float32Array(256), new Uint8Array(209)))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(codeOf(() => dequantizeInto("q8_K", new Uint8Array(291), new Float32Array(256)))).toBe(
      "OUT_OF_BOUNDS",
    );
    const w = new Uint8Array(144);
    const a = new Uint8Array(292);
    expect(codeOf(() => dotQ4_KQ8_K(w, a, 512))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ6_KQ8_K(new Uint8Array(210), a, 32))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotQ5_KQ8_K(new Uint8Array(175), a, 256))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ5_KQ8_K(new Uint8Array(176), a, 128))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => quantizeInto("q5_K", new Float32Array(256), new Uint8Array(175)))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(codeOf(() => dotQ2_KQ8_K(new Uint8Array(83), a, 256))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ2_KQ8_K(new Uint8Array(84), new Uint8Array(291), 256))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ2_KQ8_K(new Uint8Array(84), a, 128))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => quantizeInto("q2_K", new Float32Array(256), new Uint8Array(83)))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(codeOf(() => dequantizeInto("q2_K", new Uint8Array(83), new Float32Array(256)))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(codeOf(() => prepareMatrix("q2_K", new Float32Array(4 * 96), 4, 96))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => dotQ3_KQ8_K(new Uint8Array(109), a, 256))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ3_KQ8_K(new Uint8Array(110), new Uint8Array(291), 256))).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => dotQ3_KQ8_K(new Uint8Array(110), a, 128))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => quantizeInto("q3_K", new Float32Array(256), new Uint8Array(109)))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(codeOf(() => dequantizeInto("q3_K", new Uint8Array(109), new Float32Array(256)))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(codeOf(() => prepareMatrix("q3_K", new Float32Array(4 * 96), 4, 96))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => prepareMatrix("q4_K", new Float32Array(4 * 96), 4, 96))).toBe("INVALID_ARGUMENT");
  });

  test.each(["q2_K", "q3_K", "q4_K", "q5_K", "q6_K"] as const)(
    "%s matvec: each row is its dot with x quantized to q8_K once",
    (format) => {
      const rows = 19;
      const cols = 512;
      const w: Matrix = prepareMatrix(format, randomF32(rows * cols, 3), rows, cols);
      const x = randomF32(cols, 4);
      const xq = quantize("q8_K", x);
      const dot = DOTS[format];
      const rb = (cols / QK_K) * BYTES[format];
      const want = Float32Array.from({ length: rows }, (_, r) =>
        dot((w.data as Uint8Array).subarray(r * rb, (r + 1) * rb), xq, cols),
      );
      const ref = new Float32Array(rows);
      matvecReference(w, x, ref);
      expect(ref).toEqual(want);
      eachIsa(() => {
        const y = new Float32Array(rows);
        matvec(w, x, y);
        expect(y).toEqual(want);
      });
    },
  );

  nativeTest("random rows: native quantize/dequantize equal the TS reference on every ISA", () => {
    for (const format of FORMATS) {
      const x = randomF32(1024, 11, 3);
      const ref = new Uint8Array(quantizedBytes(format, 1024));
      reference.quantizeInto(format, x, ref);
      const refY = new Float32Array(1024);
      reference.dequantizeInto(format, ref, refY);
      eachIsa((isa) => {
        expect([isa, quantize(format, x)]).toEqual([isa, ref]);
        const y = new Float32Array(1024);
        dequantizeInto(format, ref, y);
        expect([isa, y]).toEqual([isa, refY]);
      });
    }
  });
});
