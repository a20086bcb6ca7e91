/**
 * y = W x, the workhorse of a decode loop. Rows are any matrix format of the format table (f32,
 * f16, Q8_0, Q4_0, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS); for the block formats x is first
 * quantized once to the format's activation format (Q8_0/Q8_1, or Q8_K for the K-quants and
 * IQ4_XS; into a scratch buffer kept between calls, so the hot path allocates nothing) and
 * each row is an integer dot product, as GGML does.
 */
import { checkInt, LlmemError } from "@llmem/core";
import {
  checkedLength,
  isBlockFormat,
  isPlainF32,
  matmulScratchStride,
  matvecNative,
  matvecScratchBytes,
  NativeMatrix,
  nativeMatmul,
  nativeMatmulParts,
  nativeSetThreads,
  type TypedArrayKind,
  typedArrayKind,
} from "@llmem/native";
import { toF16 } from "./convert.ts";
import { checkMatrixFormat, type MatrixFormat, rowBytes, wholeBlocks } from "./formats.ts";
import { quantize } from "./quantize.ts";
import { quantizeQ8_0Blocks, quantizeQ8_1Blocks } from "./reference/blocks.ts";
import { dotF16F32Ref, dotQ4_0Q8_0Ref, dotQ8_0Q8_0Ref } from "./reference/dot.ts";
import { dotIq4NlQ8_0Ref, dotIq4XsQ8_KRef } from "./reference/iq4.ts";
import {
  dotQ2_KQ8_KRef,
  dotQ3_KQ8_KRef,
  dotQ4_KQ8_KRef,
  dotQ5_KQ8_KRef,
  dotQ6_KQ8_KRef,
  quantizeQ8_KBlocks,
} from "./reference/kquants.ts";
import { dotF32At } from "./reference/matvec.ts";
import { dotQ5_0Q8_0Ref, dotQ5_1Q8_1Ref } from "./reference/q5.ts";

export interface Matrix {
  format: MatrixFormat;
  rows: number;
  cols: number;
  /** Row-major: Float32Array for f32, Uint16Array (fp16 bits) for f16, Uint8Array of blocks for the block formats. */
  data: Float32Array | Uint16Array | Uint8Array;
}

/** Largest rows/cols accepted (keeps every byte offset a safe integer and size_t-sized). */
const MAX_DIM = 2 ** 31 - 1;
const DATA_KIND = {
  f32: Float32Array,
  f16: Uint16Array,
  q8_0: Uint8Array,
  q4_0: Uint8Array,
  q4_K: Uint8Array,
  q5_K: Uint8Array,
  q6_K: Uint8Array,
  q5_0: Uint8Array,
  q5_1: Uint8Array,
  iq4_nl: Uint8Array,
  iq4_xs: Uint8Array,
  q2_K: Uint8Array,
  q3_K: Uint8Array,
} as const;

/** Quantizes or converts row-major f32 weights (rows × cols) into a Matrix. */
export function prepareMatrix(name: MatrixFormat, weights: Float32Array, rows: number, cols: number): Matrix {
  const format = checkMatrixFormat(name);
  checkInt("rows", rows, 1, MAX_DIM);
  checkInt("cols", cols, 1, MAX_DIM);
  if (!(weights instanceof Float32Array) || weights.length !== rows * cols) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `weights must be a Float32Array of rows·cols = ${rows * cols} values`,
      {
        argument: "weights",
        required: rows * cols,
      },
    );
  }
  if (isBlockFormat(format)) wholeBlocks("cols", format, cols);
  const data =
    format === "f32" ? weights.slice() : format === "f16" ? toF16(weights) : quantize(format, weights);
  return { format, rows, cols, data };
}

/** Checks a Matrix handed in by a caller (it may come from a file, not prepareMatrix). */
export function checkMatrix(w: Matrix): number {
  if (typeof w !== "object" || w === null) {
    throw new LlmemError("INVALID_ARGUMENT", "w must be a Matrix", { argument: "w" });
  }
  const format = checkMatrixFormat(w.format);
  checkInt("w.rows", w.rows, 1, MAX_DIM);
  checkInt("w.cols", w.cols, 1, MAX_DIM);
  if (isBlockFormat(format)) wholeBlocks("w.cols", format, w.cols);
  const kind = DATA_KIND[format];
  const data: unknown = w.data;
  // Bytes as the engine counts them: a subclass's byteLength getter could claim more. An empty
  // plain view goes the exact way too, which tells a detached buffer from a short one.
  const need = w.rows * rowBytes(format, w.cols);
  const have =
    ArrayBuffer.isView(data) && Object.getPrototypeOf(data) === kind.prototype && data.byteLength > 0
      ? data.byteLength
      : checkedLength("w.data", data, kind.name as TypedArrayKind) * kind.BYTES_PER_ELEMENT;
  if (have < need) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `w.data holds ${have} bytes, ${w.rows}×${w.cols} ${format} needs ${need}`,
      { argument: "w.data", length: have, required: need },
    );
  }
  return need / kind.BYTES_PER_ELEMENT;
}

/** A Float32Array of exactly `length` values, counted by the engine (see @llmem/native views.ts). */
export function checkVector(name: string, v: unknown, length: number, what: string): Float32Array {
  if (isPlainF32(v) && v.length === length && v.byteLength === length * 4) return v;
  const have = typedArrayKind(v) === "Float32Array" ? checkedLength(name, v, "Float32Array") : -1;
  if (have !== length) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} must be a Float32Array of ${length} values (${what}), got ${have >= 0 ? have : (typedArrayKind(v) ?? typeof v)}`,
      { argument: name, required: length },
    );
  }
  return v as Float32Array;
}

/** x as Q8_0 for the block formats; natively also its f32 block scales (38 bytes per block). */
let scratch = new Uint8Array(0);
/** Scratch of at least `need` bytes, grown (doubling) and then reused: no allocation per call. */
function scratchFor(need: number): Uint8Array {
  if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2));
  return scratch;
}

/**
 * The matrix's fields, each read once: a getter returning a small `rows` to the checks and a
 * large one to C would let C read and write past what was checked.
 */
export function snapshotMatrix(m: Matrix): Matrix {
  if (typeof m !== "object" || m === null) {
    throw new LlmemError("INVALID_ARGUMENT", "w must be a Matrix", { argument: "w" });
  }
  return { format: m.format, rows: m.rows, cols: m.cols, data: m.data };
}

/**
 * A matrix as checked: its fields as they were read (each once), the element count C may read,
 * and the native handle. Kept per Matrix object, so a decode loop's matrices are checked once.
 */
interface CheckedMatrix {
  readonly format: MatrixFormat;
  readonly rows: number;
  readonly cols: number;
  readonly data: Matrix["data"];
  readonly elements: number;
  /** null when libllmem is not loaded (the TS path runs). */
  readonly native: NativeMatrix | null;
}
const checkedMatrices = new WeakMap<object, CheckedMatrix>();

/**
 * The checked form of `matrix`: from the cache when every field still reads as it did when it
 * was checked (the call then uses the cached values, never a second read of a field, so a getter
 * cannot hand the checks one value and C another), else checked now and cached.
 */
function checked(matrix: Matrix): CheckedMatrix {
  const c = typeof matrix === "object" && matrix !== null ? checkedMatrices.get(matrix) : undefined;
  if (
    c !== undefined &&
    matrix.data === c.data &&
    matrix.rows === c.rows &&
    matrix.cols === c.cols &&
    matrix.format === c.format &&
    // Still there: a detached or shrunk buffer reads undefined here, and is checked (refused) below.
    c.data[c.elements - 1] !== undefined
  ) {
    return c;
  }
  const w = snapshotMatrix(matrix);
  const elements = checkMatrix(w);
  const format = checkMatrixFormat(w.format); // checked by checkMatrix; the canonical spelling
  const fresh: CheckedMatrix = Object.freeze({
    format,
    rows: w.rows,
    cols: w.cols,
    data: w.data,
    elements,
    native: matvecNative() ? new NativeMatrix(format, w.data, elements, w.rows, w.cols) : null,
  });
  checkedMatrices.set(matrix, fresh);
  return fresh;
}

/** y = W x: x has w.cols values, y gets w.rows values. Allocation-free after the first call of a size. */
export function matvec(matrix: Matrix, x: Float32Array, y: Float32Array): void {
  const w = checked(matrix);
  checkVector("x", x, w.cols, "w.cols");
  checkVector("y", y, w.rows, "w.rows");
  if (w.native !== null) {
    // Formats whose dot pairs with a quantized x need scratch for it (sized by the format table).
    const need = w.native.scratchBytes;
    w.native.matvec(x, y, need > 0 ? scratchFor(need) : null);
    return;
  }
  const need = matvecScratchBytes(w.format, w.cols);
  const s = need > 0 ? scratchFor(need) : null;
  if (w.format === "f32") matvecF32(w.data as Float32Array, w.rows, w.cols, x, y);
  else matvecReference(w, x, y, s ?? undefined);
}

/**
 * matvec for 1-3 matrices of one format and width that multiply the same x (a layer's Q, K and
 * V; its gate and up): ys[k] gets exactly what matvec(matrices[k], x, ys[k]) gives it. Natively
 * x is quantized once for all of them and their rows share one pass of the thread pool (one
 * hand-off instead of one per matrix); without libllmem, matvec per matrix. Allocation-free
 * after the first call of a size.
 */
export function matvecParts(matrices: readonly Matrix[], x: Float32Array, ys: readonly Float32Array[]): void {
  if (!(Array.isArray(matrices) && matrices.length >= 1 && matrices.length <= 3)) {
    throw new LlmemError("OUT_OF_RANGE", "matrices must be an array of 1 to 3 matrices", {
      argument: "matrices",
    });
  }
  if (!(Array.isArray(ys) && ys.length === matrices.length)) {
    throw new LlmemError("INVALID_ARGUMENT", `ys must hold one output per matrix (${matrices.length})`, {
      argument: "ys",
    });
  }
  const count = matrices.length;
  const w0 = checked(matrices[0]!);
  let native = w0.native !== null;
  partsScratch.length = count;
  for (let k = 0; k < count; k++) {
    const w = k === 0 ? w0 : checked(matrices[k]!);
    if (w.format !== w0.format || w.cols !== w0.cols) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `matrices[${k}] is ${w.rows}×${w.cols} ${w.format}; every matrix must be ${w0.format} with ${w0.cols} columns like matrices[0]`,
        { argument: `matrices[${k}]` },
      );
    }
    checkVector(`ys[${k}]`, ys[k], w.rows, `matrices[${k}].rows`);
    if (w.native === null) native = false;
    else partsScratch[k] = w.native;
  }
  checkVector("x", x, w0.cols, "w.cols");
  if (!native) {
    for (let k = 0; k < count; k++) matvec(matrices[k]!, x, ys[k]!);
    return;
  }
  const need = w0.native!.scratchBytes;
  NativeMatrix.matvecParts(partsScratch, x, ys, need > 0 ? scratchFor(need) : null);
}

/** matvecParts' list of native matrices, reused (decode calls it a few times per layer). */
const partsScratch: NativeMatrix[] = [];

/** The chunk's quantized activations (matmul), kept apart from matvec's scratch. */
let chunkScratch = new Uint8Array(0);

/**
 * Y = X Wᵀ for a chunk of n tokens (batched prefill): x holds n × w.cols values, token after
 * token; y gets n × w.rows, token after token. Natively x is quantized once for the whole chunk
 * and register tiles of rows × tokens share every load; each token's values are those of
 * matvec(w, x_t, y_t) — bit for bit for the block formats, to the last bits for f32/f16 (whose
 * tiles sum in another order). Without libllmem, matvec per token. Allocation-free after the
 * first call of a size.
 */
export function matmul(matrix: Matrix, x: Float32Array, n: number, y: Float32Array): void {
  const w = snapshotMatrix(matrix);
  const elements = checkMatrix(w);
  checkInt("n", n, 1, MAX_DIM);
  checkVector("x", x, n * w.cols, "n · w.cols");
  checkVector("y", y, n * w.rows, "n · w.rows");
  const format = checkMatrixFormat(w.format);
  if (matvecNative()) {
    const need = n * matmulScratchStride(format, w.cols);
    if (chunkScratch.length < need) chunkScratch = new Uint8Array(Math.max(need, chunkScratch.length * 2));
    nativeMatmul(format, w.data, elements, w.rows, w.cols, x, n, y, need > 0 ? chunkScratch : null);
    return;
  }
  for (let t = 0; t < n; t++) {
    matvec(w, x.subarray(t * w.cols, (t + 1) * w.cols), y.subarray(t * w.rows, (t + 1) * w.rows));
  }
}

/**
 * matmul for 1-3 matrices of one format and width that multiply the same chunk x (a layer's Q, K
 * and V; its gate and up): ys[k] gets exactly what matmul(matrices[k], x, n, ys[k]) gives it.
 * Natively x is quantized once for all of them and their rows share one pass of the thread pool
 * (one hand-off instead of one per matrix); without libllmem, matmul per matrix.
 */
export function matmulParts(
  matrices: readonly Matrix[],
  x: Float32Array,
  n: number,
  ys: readonly Float32Array[],
): void {
  if (!Array.isArray(matrices) || !(matrices.length >= 1 && matrices.length <= 3)) {
    throw new LlmemError("OUT_OF_RANGE", "matrices must be an array of 1 to 3 matrices", {
      argument: "matrices",
    });
  }
  if (!Array.isArray(ys) || ys.length !== matrices.length) {
    throw new LlmemError("INVALID_ARGUMENT", `ys must hold one output per matrix (${matrices.length})`, {
      argument: "ys",
    });
  }
  checkInt("n", n, 1, MAX_DIM);
  const parts = matrices.map((m, k) => {
    const w = snapshotMatrix(m);
    return { w, elements: checkMatrix(w), format: checkMatrixFormat(w.format), name: `matrices[${k}]` };
  });
  const first = parts[0]!;
  for (const p of parts) {
    if (p.format !== first.format || p.w.cols !== first.w.cols) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${p.name} is ${p.w.rows}×${p.w.cols} ${p.format}; every matrix must be ${first.format} with ${first.w.cols} columns like matrices[0]`,
        { argument: p.name },
      );
    }
  }
  const cols = first.w.cols;
  checkVector("x", x, n * cols, "n · w.cols");
  for (const [k, p] of parts.entries())
    checkVector(`ys[${k}]`, ys[k]!, n * p.w.rows, `n · matrices[${k}].rows`);
  if (!matvecNative()) {
    for (const [k, p] of parts.entries()) matmul(p.w, x, n, ys[k]!);
    return;
  }
  const need = n * matmulScratchStride(first.format, cols);
  if (chunkScratch.length < need) chunkScratch = new Uint8Array(Math.max(need, chunkScratch.length * 2));
  nativeMatmulParts(
    first.format,
    cols,
    x,
    n,
    parts.map((p, k) => ({ w: p.w.data, elements: p.elements, rows: p.w.rows, y: ys[k]! })),
    need > 0 ? chunkScratch : null,
  );
}

/**
 * The TS path's f32 rows (native off): four independent accumulators in doubles, which the JIT
 * keeps in registers and overlaps. Measured ~2-3× faster than the reference's f32-rounded order
 * (which the native scalar path matches bit for bit and stays the yardstick in tests); the sum
 * is at least as accurate.
 */
function matvecF32(data: Float32Array, rows: number, n: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < rows; i++) {
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
}

/** The reference row dots of the formats whose activations are Q8_K. */
const Q8_K_DOTS = {
  q2_K: dotQ2_KQ8_KRef,
  q3_K: dotQ3_KQ8_KRef,
  q4_K: dotQ4_KQ8_KRef,
  q5_K: dotQ5_KQ8_KRef,
  q6_K: dotQ6_KQ8_KRef,
  iq4_xs: dotIq4XsQ8_KRef,
} as const;

/** The TS reference matvec (same operation order as the native scalar path). */
export function matvecReference(
  w: Matrix,
  x: Float32Array,
  y: Float32Array,
  s = scratchFor(matvecScratchBytes(checkMatrixFormat(w.format), w.cols)),
): void {
  const { rows, cols } = w;
  const format = checkMatrixFormat(w.format);
  if (
    format === "q2_K" ||
    format === "q3_K" ||
    format === "q4_K" ||
    format === "q5_K" ||
    format === "q6_K" ||
    format === "iq4_xs"
  ) {
    // x to Q8_K once, then each row's integer dot (as the native scalar path, bit for bit).
    const nb = cols / 256;
    quantizeQ8_KBlocks(x, s, nb);
    const dot = Q8_K_DOTS[format];
    const rb = rowBytes(format, cols);
    for (let r = 0; r < rows; r++) y[r] = dot(w.data as Uint8Array, r * rb, s, 0, nb);
    return;
  }
  if (format === "q5_0" || format === "q5_1" || format === "iq4_nl") {
    // x to Q8_0 (q5_0, iq4_nl) or Q8_1 (q5_1) once, then each row's integer dot.
    const nb = cols / 32;
    if (format === "q5_1") quantizeQ8_1Blocks(x, s, nb);
    else quantizeQ8_0Blocks(x, s, nb);
    const dot = format === "q5_0" ? dotQ5_0Q8_0Ref : format === "q5_1" ? dotQ5_1Q8_1Ref : dotIq4NlQ8_0Ref;
    const rb = rowBytes(format, cols);
    for (let r = 0; r < rows; r++) y[r] = dot(w.data as Uint8Array, r * rb, s, 0, nb);
    return;
  }
  if (format === "f32") {
    for (let r = 0; r < rows; r++) y[r] = dotF32At(w.data as Float32Array, r * cols, x, cols);
  } else if (format === "f16") {
    for (let r = 0; r < rows; r++) y[r] = dotF16F32Ref(w.data as Uint16Array, r * cols, x, cols);
  } else {
    const nb = cols / 32;
    quantizeQ8_0Blocks(x, s, nb);
    const dot = format === "q8_0" ? dotQ8_0Q8_0Ref : dotQ4_0Q8_0Ref;
    const rb = rowBytes(format, cols);
    for (let r = 0; r < rows; r++) y[r] = dot(w.data as Uint8Array, r * rb, s, 0, nb);
  }
}

let threads = 1;

/** Threads the native matvec splits rows over (1 = the calling thread only). */
export function setThreads(n: number): void {
  checkInt("n", n, 1, 64);
  if (!nativeSetThreads(n)) {
    throw new LlmemError("NATIVE_ALLOC_FAILED", `could not start ${n} threads`, { argument: "n", value: n });
  }
  threads = n;
}

export function getThreads(): number {
  return threads;
}
