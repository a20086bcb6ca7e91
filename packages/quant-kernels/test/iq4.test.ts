/**
 * iq4_nl and iq4_xs against vectors made by ggml itself (native/test/golden, see its README): the
 * TS reference and every native ISA quantize byte for byte as quantize_row_iq4_nl_ref /
 * quantize_row_iq4_xs_ref, dequantize bit for bit as dequantize_row_iq4_nl / _xs, and dot with
 * q8_0 within f32 summation order of ggml's scalar ggml_vec_dot_iq4_nl_q8_0, with q8_K equal bit
 * for bit to ggml_vec_dot_iq4_xs_q8_K.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  dequantizeInto,
  dotIq4NlQ8_0,
  dotIq4XsQ8_K,
  matvec,
  matvecReference,
  prepareMatrix,
  quantize,
  quantizeInto,
  reference,
  referenceDot,
} from "../src/index.ts";
import { codeOf, eachIsa, hasNative, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels iq4");
const GOLDEN = join(import.meta.dir, "../../../native/test/golden");
const N = 64 * 256;
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(GOLDEN, name)));
const inputs = new Float32Array(read("inputs.f32").buffer);
// skip: leading golden bytes ggml leaves undefined. iq4_nl's golden row 0 (blocks 0..7) is all
// zeros, where ggml's reference packs its uninitialised index buffer (native/src/quant/iq4.c), so
// its comparison starts at block 8; iq4_xs re-derives every index, so all of it is compared.
// exact: the dot equals ggml's bit for bit (iq4_xs keeps ggml's scalar summation order).
const F = {
  iq4_nl: {
    block: 32,
    bytes: 18,
    act: "q8_0",
    actBytes: 34,
    skip: 8 * 18,
    exact: false,
    cols: 576, // SmolLM2's width: not a multiple of 256
    dot: dotIq4NlQ8_0,
    ref: referenceDot.dotIq4NlQ8_0,
  },
  iq4_xs: {
    block: 256,
    bytes: 136,
    act: "q8_K",
    actBytes: 292,
    skip: 0,
    exact: true,
    cols: 768,
    dot: dotIq4XsQ8_K,
    ref: referenceDot.dotIq4XsQ8_K,
  },
} as const;

function fnv256(y: Float32Array, b: number): bigint {
  let h = 0xcbf29ce484222325n;
  for (const v of new Uint8Array(y.buffer, y.byteOffset + b * 1024, 1024))
    h = ((h ^ BigInt(v)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}
const badHashes = (y: Float32Array, want: BigUint64Array): number[] =>
  Array.from({ length: N / 256 }, (_, b) => b).filter((b) => fnv256(y, b) !== want[b]);
const firstDiff = (a: Uint8Array, b: Uint8Array, skip: number): number =>
  a.findIndex((v, i) => i >= skip && v !== b[i]);

describe.each(["iq4_nl", "iq4_xs"] as const)("%s against ggml's golden vectors", (format) => {
  const f = F[format];
  const want = read(`${format}.bin`);
  const hashes = new BigUint64Array(read(`${format}.deq.fnv`).buffer);

  test("TS reference: quantize byte-identical, dequantize bit-identical", () => {
    const got = new Uint8Array(want.length);
    reference.quantizeInto(format, inputs, got);
    expect(firstDiff(got, want, f.skip)).toBe(-1);
    const y = new Float32Array(N);
    reference.dequantizeInto(format, want, y);
    expect(badHashes(y, hashes)).toEqual([]);
  });

  test.if(hasNative)("every native ISA: quantize and dequantize identical to ggml", () => {
    const seen: string[] = [];
    eachIsa((isa) => {
      const got = new Uint8Array(want.length);
      quantizeInto(format, inputs, got);
      expect([isa, firstDiff(got, want, f.skip)]).toEqual([isa, -1]);
      const y = new Float32Array(N);
      dequantizeInto(format, want, y);
      expect([isa, badHashes(y, hashes)]).toEqual([isa, []]);
      seen.push(isa);
    });
    console.log(`[iq4] ${format} golden quantize/dequantize on: ${seen.map((s) => `[${s}]`).join(" ")}`);
  });

  test(`dot with ${F[format].act}: ggml's scalar dot (${F[format].exact ? "bit for bit" : "within summation order"}); native = TS bit for bit`, () => {
    const act = read(`${f.act}.bin`);
    const dots = new Float32Array(read(`dot_${format}_${f.act}.f32`).buffer);
    for (let i = 0; i < 16; i++) {
      const a = (i + 5) % 16;
      const per = 1024 / f.block;
      const x = want.subarray(per * i * f.bytes, per * (i + 1) * f.bytes);
      const y = act.subarray(per * a * f.actBytes, per * (a + 1) * f.actBytes);
      const dx = new Float32Array(1024);
      const dy = new Float32Array(1024);
      reference.dequantizeInto(format, x, dx);
      reference.dequantizeInto(f.act, y, dy);
      let mag = 0;
      for (let j = 0; j < 1024; j++) mag += Math.abs(dx[j]! * dy[j]!);
      // Same exact integer block sums; only the order of 32 f32 block terms differs.
      const ref = f.ref(x, y, 1024);
      if (f.exact) expect(ref).toBe(dots[i]!);
      else if (Number.isFinite(dots[i]!))
        expect(Math.abs(ref - dots[i]!)).toBeLessThanOrEqual(64 * 2 ** -24 * mag);
      else expect(ref).toEqual(dots[i]!);
      eachIsa((isa) => expect([isa, f.dot(x, y, 1024)]).toEqual([isa, ref]));
    }
  });

  test(`matvec: each row is its dot with x quantized once (${F[format].cols} columns)`, () => {
    const rows = 13;
    const cols = f.cols;
    const w = prepareMatrix(format, randomF32(rows * cols, 8), rows, cols);
    const x = randomF32(cols, 9);
    const xq = quantize(F[format].act, x);
    const rb = (cols / f.block) * f.bytes;
    const want = Float32Array.from({ length: rows }, (_, r) =>
      F[format].dot((w.data as Uint8Array).subarray(r * rb, (r + 1) * rb), xq, cols),
    );
    const ref = new Float32Array(rows);
    matvecReference(w, x, ref);
    expect(ref).toEqual(want);
    eachIsa(() => {
      const y = new Float32Array(rows);
      matvec(w, x, y);
      expect(y).toEqual(want);
    });
  });

  test("native quantize = TS reference on random rows, zero blocks included", () => {
    const x = randomF32(32 * 40, 3);
    x.fill(0, 64, 160); // values 64..159 zero: whole iq4_nl blocks 2..4, iq4_xs sub-blocks 2..4
    x.fill(0, 1024, 1280); // a whole zero iq4_xs super-block (4)
    const nb = x.length / f.block;
    const want = new Uint8Array(nb * f.bytes);
    reference.quantizeInto(format, x, want);
    if (format === "iq4_nl") {
      // zero blocks keep block 1's indices, as ggml's reference
      expect(Array.from(want.subarray(2 * 18 + 2, 3 * 18))).toEqual(
        Array.from(want.subarray(18 + 2, 2 * 18)),
      );
    } else {
      // ggml's zero super-block: d = -0 (fp16 0x8000), every scale 32, every index 8
      const z = want.subarray(4 * 136, 5 * 136);
      expect(Array.from(z.subarray(0, 8))).toEqual([0x00, 0x80, 0xaa, 0xaa, 0, 0, 0, 0]);
      expect(z.subarray(8).every((v) => v === 0x88)).toBe(true);
    }
    eachIsa((isa) => {
      const got = new Uint8Array(want.length);
      quantizeInto(format, x, got);
      expect([isa, firstDiff(got, want, 0)]).toEqual([isa, -1]);
    });
  });

  test("bad lengths are refused before C runs", () => {
    expect(codeOf(() => quantize(format, new Float32Array(f.block + 16)))).toBe("INVALID_ARGUMENT");
    expect(
      codeOf(() => quantizeInto(format, new Float32Array(2 * f.block), new Uint8Array(2 * f.bytes - 1))),
    ).toBe("OUT_OF_BOUNDS");
    expect(codeOf(() => f.dot(new Uint8Array(f.bytes), new Uint8Array(f.actBytes - 1), f.block))).toBe(
      "OUT_OF_BOUNDS",
    );
    expect(
      codeOf(() => f.dot(new Uint8Array(2 * f.bytes), new Uint8Array(2 * f.actBytes), f.block + 16)),
    ).toBe("INVALID_ARGUMENT");
  });
});
