/**
 * Issue 16 at the door to C: every view C touches is measured by the engine (kind and length),
 * handles cannot be forged, and misuse is an LlmemError. Canaries: guard bytes after each view.
 */
import { describe, expect, test } from "bun:test";
import { FORMATS } from "@llmem/core";
import { expectRefused, guarded, lyingViews } from "@llmem/core/testing";
import {
  allocNative,
  byteView,
  checkedByteLength,
  detach,
  dotF32,
  fastDotQ4_KQ8_K,
  fastDotQ8_0,
  freeNative,
  isNativeBlock,
  matvecNative,
  NativeMatrix,
  native,
  nativeAttnScores,
  nativeAttnWeightedSum,
  nativeHash64,
  nativeMatvec,
  nativePagedAttention,
  nativePagedAttentionChunk,
  quantNative,
} from "../src/index.ts";

describe("views reaching C are measured by the engine", () => {
  test.skipIf(!quantNative())(
    "fastDot: only Uint8Arrays the engine proves hold n values reach C; the rest go to the checked path",
    () => {
      const q = new Uint8Array(2 * 34);
      q[1] = 0x3c; // scale 1.0 (fp16 0x3c00, little-endian), so a dot is non-zero
      q[2] = 3;
      const exact = fastDotQ8_0(q, q, 64);
      expect(exact).toBe(9);
      // Every lying variant claims 64 values' bytes over one block: refused before C (undefined),
      // and the guard bytes after the real storage are never read or written.
      for (const [label, v] of lyingViews(Uint8Array, 34, 68)) {
        expect(fastDotQ8_0(v, q, 64), label).toBeUndefined();
        expect(fastDotQ8_0(q, v, 64), label).toBeUndefined();
      }
      const floats = Object.setPrototypeOf(new Float32Array(17), Uint8Array.prototype);
      expect(fastDotQ8_0(floats, q, 64)).toBeUndefined(); // 68 bytes, but not a byte array
      const sub = new (class extends Uint8Array {})(68);
      expect(fastDotQ8_0(sub, q, 64)).toBeUndefined(); // a subclass: the checked path measures it
      for (const n of [0, -64, 63, 64.5, Number.NaN, 2 ** 32, 2 ** 40, "64", null]) {
        expect(fastDotQ8_0(q, q, n), String(n)).toBeUndefined();
      }
      expect(fastDotQ4_KQ8_K(new Uint8Array(144), new Uint8Array(292), 256)).toBe(0);
      expect(fastDotQ4_KQ8_K(new Uint8Array(143), new Uint8Array(292), 256)).toBeUndefined();
    },
  );

  test.skipIf(!quantNative())(
    "fastDot remembers proven views, yet a shrunk, detached or re-dressed one is refused at its next call",
    () => {
      const buffer = new ArrayBuffer(2 * 34, { maxByteLength: 2 * 34 });
      const x = new Uint8Array(buffer); // length-tracking: shrinks with its buffer
      x[1] = 0x3c; // scale 1.0, one value 3: x·x = 9 over the first block
      x[2] = 3;
      const y = x.slice();
      expect(fastDotQ8_0(x, y, 64)).toBe(9); // both proven now
      expect(fastDotQ8_0(x, y, 64)).toBe(9); // the remembered pair
      buffer.resize(34);
      expect(fastDotQ8_0(x, y, 64)).toBeUndefined(); // x holds one block now
      expect(fastDotQ8_0(x, y, 32)).toBe(9);
      // A proven view dressed afterwards (another prototype, own sizes claiming more) is still
      // measured by the engine.
      Object.setPrototypeOf(x, Float32Array.prototype);
      Object.defineProperty(x, "byteLength", { value: 1 << 20 });
      Object.defineProperty(x, "length", { value: 1 << 20 });
      expect(fastDotQ8_0(x, y, 64)).toBeUndefined();
      expect(fastDotQ8_0(x, y, 32)).toBe(9);
      expect(fastDotQ8_0(y, x, 64)).toBeUndefined(); // a proven x moved to the y side: proven again
      y.buffer.transfer();
      expect(fastDotQ8_0(x, y, 32)).toBeUndefined(); // y detached
      expect(fastDotQ8_0(y, x, 32)).toBeUndefined();
    },
  );

  test("dotF32 refuses byte arrays (C would read 4n bytes of each)", () => {
    expectRefused(
      () => dotF32(new Uint8Array(16) as never, new Uint8Array(16) as never, 16),
      undefined,
      "INVALID_ARGUMENT",
    );
    for (const [label, v] of lyingViews(Float32Array, 1, 64)) {
      const b = guarded(Float32Array, 64);
      expectRefused(() => dotF32(v as Float32Array, b.view, 64));
      expect(b.intact(), label).toBe(true);
    }
  });

  test("dotF32 remembers proven arrays, yet a detached or shrunk one is refused at its next call", () => {
    const buffer = new ArrayBuffer(64 * 4, { maxByteLength: 64 * 4 });
    const a = new Float32Array(buffer); // length-tracking: shrinks with its buffer
    const b = new Float32Array(64).fill(1);
    a.fill(2);
    expect(dotF32(a, b, 64)).toBe(128);
    buffer.resize(32 * 4);
    expectRefused(() => dotF32(a, b, 64), undefined, "OUT_OF_BOUNDS");
    expect(dotF32(a, b, 32)).toBe(64);
    const c = new Float32Array(64).fill(3);
    expect(dotF32(b, c, 64)).toBe(192);
    c.buffer.transfer();
    expectRefused(() => dotF32(b, c, 64), undefined, "STALE_HANDLE");
  });

  test("dotF32 canary: exact-size views in guarded buffers, guards untouched", () => {
    const a = guarded(Float32Array, 37);
    const b = guarded(Float32Array, 37);
    a.view.fill(1);
    b.view.fill(2);
    expect(dotF32(a.view, b.view)).toBe(74);
    expect(a.intact() && b.intact()).toBe(true);
  });

  test.if(native.available)(
    "paged attention: out and lse bounded by what C writes, whatever they claim",
    () => {
      const numHeads = 2;
      const headDim = 32;
      const call = (out: Float32Array, lse: Float32Array, query: Float32Array) =>
        nativePagedAttention(
          {
            format: "f32",
            query,
            numHeads,
            numKvHeads: 1,
            headDim,
            kBytes: new Uint8Array(16 * headDim * 4),
            vBytes: new Uint8Array(16 * headDim * 4),
            blockTable: new Uint32Array([0]),
            numBlocks: 1,
            blockSize: 16,
            numTokens: 4,
            scale: 1,
            out,
            lse,
          },
          new Float32Array(4 * numHeads + 32 * headDim),
        );
      for (const [label, v] of lyingViews(Float32Array, 1, numHeads * headDim)) {
        expectRefused(() => call(v as Float32Array, new Float32Array(numHeads), new Float32Array(64)));
        expectRefused(() => call(new Float32Array(64), new Float32Array(numHeads), v as Float32Array));
        void label;
      }
      for (const [, v] of lyingViews(Float32Array, 1, numHeads)) {
        expectRefused(() => call(new Float32Array(64), v as Float32Array, new Float32Array(64)));
      }
      const out = guarded(Float32Array, numHeads * headDim);
      const lse = guarded(Float32Array, numHeads);
      call(out.view, lse.view, new Float32Array(64));
      expect(out.intact() && lse.intact()).toBe(true);
    },
  );

  test.if(native.available)(
    "paged attention of a chunk: queries, out, lse and the table bounded by the chunk's size",
    () => {
      const numHeads = 2;
      const headDim = 32;
      const q = 3; // queries; the last attends over 15 + 2 = 17 tokens: two blocks of 16
      const floats = q * numHeads * headDim;
      const pool = () => new Uint8Array(2 * 16 * headDim * 4).fill(0x3c); // two f32 blocks of small values
      const call = (
        out: Float32Array,
        lse: Float32Array,
        query: Float32Array,
        o: { numBlocks?: number; numTokens?: number; numQueries?: number; table?: Uint32Array } = {},
      ) =>
        nativePagedAttentionChunk(
          {
            format: "f32",
            query,
            numHeads,
            numKvHeads: 1,
            headDim,
            kBytes: pool(),
            vBytes: pool(),
            blockTable: o.table ?? new Uint32Array([1, 0]),
            numBlocks: o.numBlocks ?? 2,
            blockSize: 16,
            numTokens: o.numTokens ?? 15,
            scale: 1,
            out,
            lse,
          },
          o.numQueries ?? q,
        );
      const fresh = () =>
        [new Float32Array(floats), new Float32Array(q * numHeads), new Float32Array(floats)] as const;
      for (const [, v] of lyingViews(Float32Array, 1, floats)) {
        const [out, lse, query] = fresh();
        expectRefused(() => call(v as Float32Array, lse, query));
        expectRefused(() => call(out, lse, v as Float32Array));
      }
      for (const [, v] of lyingViews(Float32Array, 1, q * numHeads)) {
        const [out, , query] = fresh();
        expectRefused(() => call(out, v as Float32Array, query));
      }
      // one float short of the chunk's size, a table one block short, no queries, no prefix
      const [out0, lse0, query0] = fresh();
      expectRefused(() => call(out0.subarray(1), lse0, query0), undefined, "OUT_OF_BOUNDS");
      expectRefused(() => call(out0, lse0, query0, { numBlocks: 1 }), undefined, "OUT_OF_BOUNDS");
      expectRefused(
        () => call(out0, lse0, query0, { table: new Uint32Array([1]) }),
        undefined,
        "OUT_OF_BOUNDS",
      );
      expectRefused(() => call(out0, lse0, query0, { numQueries: 0 }), undefined, "INVALID_ARGUMENT");
      expectRefused(() => call(out0, lse0, query0, { numQueries: 1.5 }), undefined, "INVALID_ARGUMENT");
      expectRefused(() => call(out0, lse0, query0, { numTokens: 0 }), undefined, "INVALID_ARGUMENT");
      const out = guarded(Float32Array, floats);
      const lse = guarded(Float32Array, q * numHeads);
      call(out.view, lse.view, new Float32Array(floats).fill(0.25));
      expect(out.intact() && lse.intact()).toBe(true);
      expect(out.view.every((x) => Number.isFinite(x) && x !== 0)).toBe(true);
    },
  );

  test.if(matvecNative())("matvec: x and y bounded by cols and rows in engine floats", () => {
    const rows = 4;
    const cols = 32;
    const w = new Float32Array(rows * cols).fill(1);
    const x = guarded(Float32Array, cols);
    const y = guarded(Float32Array, rows);
    nativeMatvec("f32", w, rows * cols, rows, cols, x.view, y.view, null);
    expect(x.intact() && y.intact()).toBe(true);
    for (const [, v] of lyingViews(Float32Array, 1, rows)) {
      expectRefused(() =>
        nativeMatvec("f32", w, rows * cols, rows, cols, new Float32Array(cols), v as Float32Array, null),
      );
    }
  });

  test.if(matvecNative())(
    "NativeMatrix: checked once, yet a detached buffer or a forged handle never reaches C",
    () => {
      const rows = 4;
      const cols = 32;
      const w = new Float32Array(rows * cols).fill(1);
      const x = guarded(Float32Array, cols);
      x.view.fill(0.5);
      const y = guarded(Float32Array, rows);
      const m = new NativeMatrix("f32", w, rows * cols, rows, cols);
      m.matvec(x.view, y.view, null);
      expect([...y.view]).toEqual([16, 16, 16, 16]);
      expect(x.intact() && y.intact()).toBe(true);
      // Too few elements for rows × cols, by the caller's count or by the view's own length.
      expectRefused(
        () => new NativeMatrix("f32", w, rows * cols - 1, rows, cols),
        undefined,
        "OUT_OF_BOUNDS",
      );
      expectRefused(() => new NativeMatrix("f32", w.subarray(1), rows * cols, rows, cols));
      expectRefused(
        () => new NativeMatrix("q8_0", new Uint8Array(33), 33, 1, 32),
        undefined,
        "OUT_OF_BOUNDS",
      );
      expectRefused(
        () => new NativeMatrix("q4_1" as never, w, rows * cols, rows, cols),
        undefined,
        "INVALID_ARGUMENT",
      );
      // q8_0 needs scratch for the quantized x.
      const q = new NativeMatrix("q8_0", new Uint8Array(34 * rows), 34 * rows, rows, cols);
      expectRefused(() => q.matvec(x.view, y.view, null), undefined, "INVALID_ARGUMENT");
      // A hand-made object is not a matrix.
      expectRefused(
        () => NativeMatrix.prototype.matvec.call({} as NativeMatrix, x.view, y.view, null),
        undefined,
        "INVALID_ARGUMENT",
      );
      // The buffer detached after the check: refused, y untouched.
      const w2 = new Float32Array(rows * cols).fill(1);
      const m2 = new NativeMatrix("f32", w2, rows * cols, rows, cols);
      y.view.fill(7);
      w2.buffer.transfer();
      expectRefused(() => m2.matvec(x.view, y.view, null), undefined, "STALE_HANDLE");
      expect([...y.view]).toEqual([7, 7, 7, 7]);
      expect(y.intact()).toBe(true);
    },
  );

  test.if(matvecNative())(
    "NativeMatrix.matvecParts: forged, stale or mismatched parts and lying outputs never reach C",
    () => {
      const cols = 32;
      const a = new NativeMatrix("f32", new Float32Array(4 * cols).fill(1), 4 * cols, 4, cols);
      const b = new NativeMatrix("f32", new Float32Array(2 * cols).fill(2), 2 * cols, 2, cols);
      const x = guarded(Float32Array, cols);
      x.view.fill(0.5);
      const ya = guarded(Float32Array, 4);
      const yb = guarded(Float32Array, 2);
      NativeMatrix.matvecParts([a, b], x.view, [ya.view, yb.view], null);
      expect([...ya.view, ...yb.view]).toEqual([16, 16, 16, 16, 32, 32]);
      expect(x.intact() && ya.intact() && yb.intact()).toBe(true);
      ya.view.fill(7);
      yb.view.fill(7);
      const untouched = () => [...ya.view, ...yb.view].every((v) => v === 7) && ya.intact() && yb.intact();
      const q = new NativeMatrix("q8_0", new Uint8Array(34 * 2), 34 * 2, 2, cols);
      const wide = new NativeMatrix("f32", new Float32Array(2 * 64), 2 * 64, 2, 64);
      expectRefused(
        () => NativeMatrix.matvecParts([a, q], x.view, [ya.view, yb.view], null),
        undefined,
        "INVALID_ARGUMENT",
      );
      expectRefused(
        () => NativeMatrix.matvecParts([a, wide], x.view, [ya.view, yb.view], null),
        undefined,
        "INVALID_ARGUMENT",
      );
      expectRefused(() =>
        NativeMatrix.matvecParts([a, {} as NativeMatrix], x.view, [ya.view, yb.view], null),
      );
      expectRefused(() => NativeMatrix.matvecParts([a, b], x.view, [ya.view], null));
      expectRefused(() => NativeMatrix.matvecParts([], x.view, [], null), undefined, "OUT_OF_RANGE");
      expectRefused(() =>
        NativeMatrix.matvecParts([a, b, a, b], x.view, [ya.view, yb.view, ya.view, yb.view], null),
      );
      // An output shorter than its matrix's rows, by its length or by a lying view.
      expectRefused(() => NativeMatrix.matvecParts([a, b], x.view, [ya.view, yb.view.subarray(1)], null));
      for (const [, v] of lyingViews(Float32Array, 1, 2)) {
        expectRefused(() => NativeMatrix.matvecParts([a, b], x.view, [ya.view, v as Float32Array], null));
      }
      // A part's buffer detached after its check.
      const w2 = new Float32Array(2 * cols).fill(1);
      const stale = new NativeMatrix("f32", w2, 2 * cols, 2, cols);
      w2.buffer.transfer();
      expectRefused(
        () => NativeMatrix.matvecParts([a, stale], x.view, [ya.view, yb.view], null),
        undefined,
        "STALE_HANDLE",
      );
      expect(untouched()).toBe(true);
    },
  );

  test.if(matvecNative())("attention: hostile counts, sizes and offsets are refused before C", () => {
    const q = new Float32Array(32);
    const rows = new Float32Array(64);
    const out = guarded(Float32Array, 2);
    const w = new Float32Array(2);
    for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32, "2", null]) {
      const b = bad as number;
      expectRefused(() => nativeAttnScores("f32", q, rows, 256, 0, 128, b, 32, 1, out.view, 0));
      expectRefused(() => nativeAttnScores("f32", q, rows, 256, 0, 128, 2, b, 1, out.view, 0));
      expectRefused(() => nativeAttnScores("f32", q, rows, b, 0, 128, 2, 32, 1, out.view, 0));
      expectRefused(() => nativeAttnWeightedSum("f32", w, 0, rows, 256, 0, 128, b, 32, out.view));
    }
    expect(out.intact()).toBe(true);
  });

  test.if(matvecNative())(
    "attention: rows of any kind, query, weights and out that lie about their size never reach past their bytes",
    () => {
      // Two f32 rows of 32 values: 256 bytes of rows, 2 scores, 32 sums. Each lying view holds
      // half of what it claims; the honest calls beside them show the same geometry is accepted.
      const q = new Float32Array(32).fill(1);
      const w = new Float32Array(2).fill(1);
      const scores = (rows: unknown, query = q as unknown, out = guarded(Float32Array, 2)) => {
        nativeAttnScores(
          "f32",
          query as Float32Array,
          rows as Float32Array,
          256,
          0,
          128,
          2,
          32,
          1,
          out.view,
          0,
        );
        return out;
      };
      const sums = (rows: unknown, weights = w as unknown, out = guarded(Float32Array, 32)) => {
        nativeAttnWeightedSum(
          "f32",
          weights as Float32Array,
          0,
          rows as Float32Array,
          256,
          0,
          128,
          2,
          32,
          out.view,
        );
        return out;
      };
      for (const ctor of [Uint8Array, Uint16Array, Float32Array]) {
        const honest = new ctor(256 / ctor.BYTES_PER_ELEMENT);
        expect(scores(honest).intact()).toBe(true);
        expect(sums(honest).intact()).toBe(true);
        for (const [, v] of lyingViews(ctor, 128 / ctor.BYTES_PER_ELEMENT, 256 / ctor.BYTES_PER_ELEMENT)) {
          expectRefused(() => scores(v), undefined);
          expectRefused(() => sums(v), undefined);
        }
      }
      const rows = new Float32Array(64);
      for (const [, v] of lyingViews(Float32Array, 16, 32)) expectRefused(() => scores(rows, v), undefined);
      for (const [, v] of lyingViews(Float32Array, 1, 2)) expectRefused(() => sums(rows, v), undefined);
      // Outputs owning a byteLength that claims room they lack: refused, guard bytes untouched.
      const short = guarded(Float32Array, 1);
      Object.defineProperty(short.view, "byteLength", { value: 8 });
      expectRefused(() => scores(rows, q, short), undefined);
      expect(short.intact()).toBe(true);
      const half = guarded(Float32Array, 16);
      Object.defineProperty(half.view, "byteLength", { value: 128 });
      expectRefused(() => sums(rows, w, half), undefined);
      expect(half.intact()).toBe(true);
    },
  );

  test.if(matvecNative())(
    "attention remembers proven views, yet rows shrunk or an output detached after a call are refused at the next",
    () => {
      const buffer = new ArrayBuffer(256, { maxByteLength: 256 });
      const rows = new Float32Array(buffer).fill(1); // length-tracking: shrinks with its buffer
      const q = new Float32Array(32).fill(1);
      const out = new Float32Array(2);
      nativeAttnScores("f32", q, rows, 256, 0, 128, 2, 32, 1, out, 0);
      nativeAttnScores("f32", q, rows, 256, 0, 128, 2, 32, 1, out, 0); // the remembered views
      expect([...out]).toEqual([32, 32]);
      buffer.resize(128);
      out.fill(7);
      expectRefused(
        () => nativeAttnScores("f32", q, rows, 256, 0, 128, 2, 32, 1, out, 0),
        undefined,
        "OUT_OF_BOUNDS",
      );
      expect([...out]).toEqual([7, 7]);
      nativeAttnScores("f32", q, rows, 128, 0, 128, 1, 32, 1, out, 0);
      expect(out[0]).toBe(32);
      // Dressing a remembered view afterwards changes nothing the engine measures.
      Object.defineProperty(q, "byteLength", { value: 1 << 20 });
      Object.defineProperty(q, "length", { value: 1 << 18 });
      expectRefused(() => nativeAttnScores("f32", q, rows, 128, 0, 128, 1, 64, 1, out, 0));
      const sums = new Float32Array(32);
      const w = new Float32Array(1).fill(1);
      nativeAttnWeightedSum("f32", w, 0, rows, 128, 0, 128, 1, 32, sums);
      expect(sums[0]).toBe(1);
      sums.buffer.transfer();
      expectRefused(
        () => nativeAttnWeightedSum("f32", w, 0, rows, 128, 0, 128, 1, 32, sums),
        undefined,
        "STALE_HANDLE",
      );
    },
  );

  test.if(matvecNative())("attention: an offset into out or weights is bounded like the view itself", () => {
    const rows = new Float32Array(64).fill(1);
    const q = new Float32Array(32).fill(1);
    const out = guarded(Float32Array, 4);
    nativeAttnScores("f32", q, rows, 256, 0, 128, 2, 32, 1, out.view, 2);
    expect([...out.view]).toEqual([0, 0, 32, 32]);
    expectRefused(() => nativeAttnScores("f32", q, rows, 256, 0, 128, 2, 32, 1, out.view, 3), undefined);
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 32]) {
      expectRefused(() => nativeAttnScores("f32", q, rows, 256, 0, 128, 2, 32, 1, out.view, bad), undefined);
    }
    expect(out.intact()).toBe(true);
    const sum = guarded(Float32Array, 32);
    const w = new Float32Array(4).fill(2);
    nativeAttnWeightedSum("f32", w, 2, rows, 256, 0, 128, 2, 32, sum.view);
    expect(sum.view[0]).toBe(4);
    expectRefused(() => nativeAttnWeightedSum("f32", w, 3, rows, 256, 0, 128, 2, 32, sum.view), undefined);
    expect(sum.intact()).toBe(true);
  });

  test("hash: a detached or lying token array is refused, not hashed as something else", () => {
    if (!native.available) return expect(nativeHash64(new Uint32Array(4), null, 0n)).toBeNull();
    const detached = new Uint32Array(4);
    detached.buffer.transfer();
    expectRefused(() => nativeHash64(detached, null, 0n), undefined, "STALE_HANDLE");
    const lying = new Uint32Array(2);
    Object.defineProperty(lying, "length", { value: 64 });
    expectRefused(() => nativeHash64(lying, null, 0n), undefined, "INVALID_ARGUMENT");
    expectRefused(() => nativeHash64(new Uint8Array(8) as never, null, 0n), undefined, "INVALID_ARGUMENT");
  });

  test("byteView and checkedByteLength refuse non-views and own sizes", () => {
    expectRefused(() => byteView({} as never), undefined, "INVALID_ARGUMENT");
    const lying = new Float32Array(2);
    Object.defineProperty(lying, "byteLength", { value: 4096 });
    expectRefused(() => checkedByteLength("v", lying), undefined, "INVALID_ARGUMENT");
    expectRefused(() => byteView(lying), undefined, "INVALID_ARGUMENT");
    expect(byteView(new Float32Array(3)).length).toBe(12);
  });
});

describe("native blocks cannot be forged", () => {
  test("detach and freeNative refuse null and made-up blocks with an LlmemError", () => {
    expectRefused(() => detach(null as never), undefined, "FOREIGN_HANDLE");
    expectRefused(() => freeNative(null as never), undefined, "DOUBLE_FREE");
    expectRefused(() =>
      freeNative({ address: 0xdead0, buffer: new ArrayBuffer(8), byteLength: 8, align: 64 } as never),
    );
  });

  test.if(native.available)(
    "an edited block frees its own memory, never the address or buffer it was given",
    () => {
      const a = allocNative(64);
      const view = new Uint8Array(a.buffer);
      (a as { buffer: ArrayBuffer }).buffer = new ArrayBuffer(64);
      expect(() => Object.defineProperty(a, "address", { value: 0xdead0 })).not.toThrow();
      // Identity is the private record, not the field: the edited address no longer names it.
      expect(isNativeBlock(a)).toBe(true);
      freeNative(a);
      expect(view.length).toBe(0); // the real buffer's views were detached before the free
      expectRefused(() => freeNative(a), undefined, "DOUBLE_FREE");
    },
  );
});

describe("fuzz finds: every refusal at the native door is an LlmemError naming its argument", () => {
  test.if(native.available)("counts, pairs, kinds and parents are checked before C is called", async () => {
    const { refusesNaming } = await import("@llmem/core/testing");
    const n = await import("../src/index.ts");
    const f32 = new Float32Array(32);
    const u16 = new Uint16Array(32);
    const q = new Uint8Array(34);
    // `(n | 0)` on a bigint threw a TypeError in dotF32's fast test.
    refusesNaming(() => n.dotF32(f32, f32, 16n as never), /\bn\b/);
    // An unknown dot pair threw "is not a function"; a symbol n a TypeError building the message.
    refusesNaming(() => n.nativeDot("q9·q9" as never, q, q, 32), "pair");
    refusesNaming(() => n.nativeDot("q8_0·q8_0", q, q, Symbol("n") as never), /\bn\b/);
    refusesNaming(() => n.nativeDot("q8_0·q8_0", q, q, 31), /\bn\b/);
    // Conversions passed any n and any view to C: NaN / "32" reached bun:ffi, a Float32Array
    // where fp16 bits are due was written as bytes, a detached view was refused without a name.
    refusesNaming(() => n.nativeF32ToF16(f32, u16, Number.NaN), /\bn\b/);
    refusesNaming(() => n.nativeF32ToF16(f32, u16, "32" as never), /\bn\b/);
    refusesNaming(() => n.nativeF16ToF32(u16, new Uint16Array(64) as never, 32), "dst");
    const detached = new Float32Array(32);
    detached.buffer.transfer();
    refusesNaming(() => n.nativeF32ToF16(detached, u16, 32), "src");
    // A look-alike format row reached C with a made-up id.
    refusesNaming(() => n.nativeQuantize({ ...FORMATS.q8_0, id: 99 }, f32, q, 32), "format");
    // A hash parent that is not a u64 went to bun:ffi as is.
    refusesNaming(() => n.nativeHash64(new Uint32Array(4), null, -1n), "parent");
    refusesNaming(
      () => n.nativeChain(new Uint32Array(8), 4, 2, null, null, 5 as never, new Uint32Array(4)),
      "parent",
    );
    refusesNaming(
      () => n.nativeChain(new Uint32Array(8), Number.NaN, 2, null, null, 0n, new Uint32Array(4)),
      "blockSize",
    );
  });
});

test.if(native.available)(
  "fuzz finds: dotF32(null, …) as a process's first dot is an LlmemError (null matched the empty proof cache)",
  () => {
    // A fresh process: the proof cache starts empty only once.
    const code = `import { dotF32 } from "${import.meta.dir}/../src/index.ts";
try { dotF32(null, new Float32Array(16), 16); console.log("no error"); } catch (e) { console.log(e.constructor.name, e.code ?? ""); }`;
    const r = Bun.spawnSync(["bun", "-e", code], { stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString().trim()).toBe("LlmemError INVALID_ARGUMENT");
  },
);
