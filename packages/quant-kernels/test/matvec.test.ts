import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  getThreads,
  type Matrix,
  type MatrixFormat,
  matvec,
  matvecParts,
  matvecReference,
  prepareMatrix,
  setThreads,
} from "../src/index.ts";
import { codeOf, eachIsa, hasNative, nativeTest, noteBackend, randomF32 } from "./helpers.ts";

noteBackend("@llmem/quant-kernels matvec");
const FORMATS: MatrixFormat[] = ["f32", "f16", "q8_0", "q4_0"];

afterAll(() => setThreads(1));

function exactMatvec(w: Float32Array, x: Float32Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[r]! += w[r * cols + c]! * x[c]!;
  return y;
}

describe("matvec", () => {
  const shapes = [
    [1, 32],
    [3, 64],
    [17, 96],
    [64, 256],
    [130, 1024],
  ] as const;
  for (const format of FORMATS) {
    test(`${format}: native (every ISA and thread count) matches the reference`, () => {
      for (const [rows, cols] of shapes) {
        const wf = randomF32(rows * cols, rows, 1);
        const x = randomF32(cols, cols, 1);
        const w = prepareMatrix(format, wf, rows, cols);
        const want = new Float32Array(rows);
        matvecReference(w, x, want);
        // the reference itself is close to the exact product (quantization error aside)
        const ex = exactMatvec(wf, x, rows, cols);
        const tolQ = format === "q4_0" ? 0.2 : format === "q8_0" ? 0.02 : format === "f16" ? 2e-3 : 1e-4;
        for (let r = 0; r < rows; r++)
          expect(Math.abs(want[r]! - ex[r]!)).toBeLessThanOrEqual(tolQ * Math.sqrt(cols));
        for (const threads of [1, 2, 3]) {
          setThreads(threads);
          expect(getThreads()).toBe(threads);
          eachIsa((isa) => {
            const y = new Float32Array(rows).fill(Number.NaN);
            matvec(w, x, y);
            for (let r = 0; r < rows; r++) {
              if (isa === "scalar") expect(y[r]).toBe(want[r]!);
              else expect(Math.abs(y[r]! - want[r]!)).toBeLessThanOrEqual(1e-5 * cols);
            }
          });
          const y = new Float32Array(rows);
          matvec(w, x, y); // whatever backend is active (TS when native is off)
          for (let r = 0; r < rows; r++) expect(Math.abs(y[r]! - want[r]!)).toBeLessThanOrEqual(1e-5 * cols);
        }
        setThreads(1);
      }
    });
  }

  test("bad matrices and vectors throw LlmemError and leave y untouched", () => {
    const w = prepareMatrix("q8_0", randomF32(4 * 64), 4, 64);
    const y = new Float32Array(4).fill(9);
    const x = randomF32(64);
    const bad = (m: Partial<Matrix>) => codeOf(() => matvec({ ...w, ...m } as Matrix, x, y));
    expect(bad({ rows: 5 })).toBe("OUT_OF_BOUNDS"); // data too short for the claimed rows
    expect(bad({ data: w.data.subarray(0, 100) })).toBe("OUT_OF_BOUNDS");
    expect(bad({ cols: 48 })).toBe("INVALID_ARGUMENT");
    expect(bad({ rows: 2 ** 40 })).toBe("OUT_OF_RANGE");
    expect(bad({ rows: 1.5 })).toBe("INVALID_ARGUMENT");
    expect(bad({ format: "q7_0" as MatrixFormat })).toBe("INVALID_ARGUMENT");
    expect(bad({ data: new Float32Array(1000) })).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => matvec(w, randomF32(63), y))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => matvec(w, x, new Float32Array(3)))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => matvec(null as unknown as Matrix, x, y))).toBe("INVALID_ARGUMENT");
    expect(y.every((v) => v === 9)).toBe(true);
    expect(codeOf(() => prepareMatrix("q4_0", randomF32(40), 1, 40))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => prepareMatrix("f32", randomF32(40), 2, 21))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => setThreads(0))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => setThreads(65))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => setThreads(2.5))).toBe("INVALID_ARGUMENT");
    expect(getThreads()).toBe(1);
  });

  // With native off, matvec is the reference and there is no thread pool: nothing to compare.
  nativeTest("model: any sequence of setThreads / matvec / getThreads behaves like the reference", () => {
    // The stateful parts are the thread pool and the reused scratch buffer: the model is a
    // thread count plus the TS reference matvec; shapes change between calls to resize scratch.
    type Model = { threads: number };
    type Real = { y: Float32Array };
    class SetThreads implements fc.Command<Model, Real> {
      constructor(readonly n: number) {}
      check = () => true;
      run(m: Model): void {
        setThreads(this.n);
        m.threads = this.n;
        expect(getThreads()).toBe(m.threads);
      }
      toString = () => `setThreads(${this.n})`;
    }
    class Matvec implements fc.Command<Model, Real> {
      constructor(
        readonly format: MatrixFormat,
        readonly rows: number,
        readonly blocks: number,
        readonly seed: number,
      ) {}
      check = () => true;
      run(m: Model): void {
        const cols = this.blocks * 32;
        const w = prepareMatrix(this.format, randomF32(this.rows * cols, this.seed), this.rows, cols);
        const x = randomF32(cols, this.seed + 1);
        const want = new Float32Array(this.rows);
        matvecReference(w, x, want);
        const y = new Float32Array(this.rows);
        matvec(w, x, y);
        for (let r = 0; r < this.rows; r++)
          expect(Math.abs(y[r]! - want[r]!)).toBeLessThanOrEqual(1e-5 * cols);
        expect(getThreads()).toBe(m.threads);
      }
      toString = () => `matvec(${this.format}, ${this.rows}×${this.blocks * 32})`;
    }
    const commands = [
      fc.integer({ min: 1, max: 4 }).map((n) => new SetThreads(n)),
      fc
        .tuple(
          fc.constantFrom(...FORMATS),
          fc.integer({ min: 1, max: 70 }),
          fc.integer({ min: 1, max: 12 }),
          fc.nat(),
        )
        .map(([f, r, b, s]) => new Matvec(f, r, b, s)),
    ];
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 12 }), (cmds) => {
        setThreads(1);
        fc.modelRun(() => ({ model: { threads: 1 }, real: { y: new Float32Array(0) } }), cmds);
      }),
      { numRuns: 40 },
    );
    setThreads(1);
  });

  test.skipIf(!hasNative)("a GGUF-style Uint8Array of blocks works as matrix data", () => {
    const w = prepareMatrix("q4_0", randomF32(8 * 64), 8, 64);
    const copy = new Uint8Array(w.data.byteLength + 3).subarray(3); // unaligned, as in a file
    copy.set(w.data as Uint8Array);
    const y1 = new Float32Array(8);
    const y2 = new Float32Array(8);
    const x = randomF32(64);
    matvec(w, x, y1);
    matvec({ ...w, data: copy }, x, y2);
    expect(y2).toEqual(y1);
  });
});

describe("matvec checks a matrix once and still sees every change to it", () => {
  const rows = 3;
  const cols = 32;
  const x = new Float32Array(cols).fill(1);
  for (const format of FORMATS) {
    test(`${format}: new data, a new shape, a detached buffer`, () => {
      const w = prepareMatrix(format, new Float32Array(rows * cols).fill(1), rows, cols);
      const y = new Float32Array(rows);
      // Rounded: q8_0 and q4_0 store 1 and -2 to within a scale's rounding.
      const rounded = () => [...y].map(Math.round);
      matvec(w, x, y);
      expect(rounded()).toEqual([32, 32, 32]);
      // The same object with other weights: the next call multiplies by them.
      w.data = prepareMatrix(format, new Float32Array(rows * cols).fill(-2), rows, cols).data;
      matvec(w, x, y);
      expect(rounded()).toEqual([-64, -64, -64]);
      // A shape the data cannot hold is refused, not served from what was checked before.
      w.rows = rows + 1;
      expect(codeOf(() => matvec(w, x, new Float32Array(rows + 1)))).toBe("OUT_OF_BOUNDS");
      w.rows = rows;
      matvec(w, x, y);
      // The weights' buffer detached after the matrix was checked: refused, y unchanged.
      y.fill(5);
      (w.data.buffer as ArrayBuffer).transfer();
      expect(codeOf(() => matvec(w, x, y))).toBe("STALE_HANDLE");
      expect([...y]).toEqual([5, 5, 5]);
    });
  }
});

describe("matvecParts", () => {
  const PART_FORMATS: MatrixFormat[] = ["f32", "f16", "q8_0", "q4_0", "q5_0", "q4_K", "q6_K", "iq4_xs"];
  for (const format of PART_FORMATS) {
    test(`${format}: each part's y is exactly matvec of that matrix (every ISA, 1-3 threads)`, () => {
      // Part row counts off a multiple of four; the second set large enough to be split over the pool.
      for (const rowsList of [[5, 3, 7], [300, 129], [1]]) {
        const cols = 512;
        const ws = rowsList.map((rows, k) =>
          prepareMatrix(format, randomF32(rows * cols, 11 + k, 1), rows, cols),
        );
        const x = randomF32(cols, 5, 1);
        for (const threads of hasNative ? [1, 2, 3] : [1]) {
          setThreads(threads);
          const check = () => {
            const ys = ws.map((w) => new Float32Array(w.rows).fill(Number.NaN));
            matvecParts(ws, x, ys);
            for (const [k, w] of ws.entries()) {
              const want = new Float32Array(w.rows);
              matvec(w, x, want);
              expect(Array.from(ys[k]!)).toEqual(Array.from(want));
            }
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
    const x = randomF32(64);
    const ya = new Float32Array(4).fill(9);
    const yb = new Float32Array(3).fill(9);
    expect(codeOf(() => matvecParts([a, other], x, [ya, yb]))).toBe("INVALID_ARGUMENT"); // formats differ
    expect(codeOf(() => matvecParts([a, wide], x, [ya, yb]))).toBe("INVALID_ARGUMENT"); // widths differ
    expect(codeOf(() => matvecParts([a, b], x, [ya]))).toBe("INVALID_ARGUMENT"); // one y for two
    expect(codeOf(() => matvecParts([a, b], x, [ya, yb.subarray(1)]))).toBe("INVALID_ARGUMENT"); // y short
    expect(codeOf(() => matvecParts([a, b], x.subarray(1), [ya, yb]))).toBe("INVALID_ARGUMENT"); // x short
    expect(codeOf(() => matvecParts([], x, []))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => matvecParts([a, b, a, b], x, [ya, yb, ya, yb]))).toBe("OUT_OF_RANGE");
    expect(codeOf(() => matvecParts([a, { ...b, rows: 4 } as Matrix], x, [ya, ya]))).toBe("OUT_OF_BOUNDS");
    expect(ya.every((v) => v === 9) && yb.every((v) => v === 9)).toBe(true);
  });
});
