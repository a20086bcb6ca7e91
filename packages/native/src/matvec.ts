/**
 * libllmem's matvec, thread count and attention building blocks (quant-kernels' native paths).
 * The caller validates shapes (the same checks guard its TS path); every pointer is derived here
 * by viewPtr, bounded by the count the caller proved, and a refused call throws.
 */

import { type Pointer, ptr } from "bun:ffi";
import {
  bytesFor,
  describeValue,
  FORMATS,
  LlmemError,
  type MatrixFormat,
  type RowFormat,
  type TypedArray,
} from "@llmem/core";
import { loaded } from "./loaded.ts";
import {
  alignedViewPtr,
  checkU32,
  lastCapacity,
  type NativePtr,
  throwRefusal,
  typedPtr,
  viewPtr,
} from "./pointers.ts";
import { bytesHold, byteView, engineElementBytes, ProvenView, plainF32Holds } from "./views.ts";

/** matvec's row/column counts and view capacities go to C as u32 (llmem.h says why). */
const U32_MAX = 0xffff_ffff;

/** True when matvec and attention run in libllmem (else callers take their TS path). */
export function matvecNative(): boolean {
  return loaded() !== null;
}

/**
 * Scratch bytes llmem_matvec needs for a row of `cols` values of `format` (0 when its dot pairs
 * with f32 x): cols/32 f32 block scales, then x in the format's vec_dot format.
 */
export function matvecScratchBytes(format: MatrixFormat, cols: number): number {
  const vecDot = FORMATS[format].vecDot;
  return vecDot === null || vecDot === "f32" ? 0 : (cols / 32) * 4 + bytesFor(vecDot, cols);
}

/**
 * y = W x. w holds `elements` elements (rows × cols of `format`); scratch, for formats whose dot
 * pairs with a quantized activation, holds at least matvecScratchBytes(format, cols) bytes (checked).
 * A one-off NativeMatrix: callers that multiply by the same matrix again keep one instead.
 */
export function nativeMatvec(
  format: MatrixFormat,
  w: TypedArray,
  elements: number,
  rows: number,
  cols: number,
  x: Float32Array,
  y: Float32Array,
  scratch: Uint8Array | null,
): void {
  new NativeMatrix(format, w, elements, rows, cols).matvec(x, y, scratch);
}

/**
 * A weight matrix checked once for libllmem's matvec: the format's row, and `rows × cols` values
 * of it inside `data` as the engine measures it (viewPtr). Decode multiplies the same few
 * matrices thousands of times per second, and re-deriving all of that per call was most of a
 * small matvec's cost; what stays per call is what can change under the same matrix: its buffer
 * detached or shrunk (an index probe, which no own property can fake) and the x / y / scratch
 * views. Private fields: an edited or hand-made object is refused.
 */
export class NativeMatrix {
  readonly #id: number;
  readonly #data: TypedArray;
  /** Index of the last element C reads (data[#last] is undefined once the buffer is gone). */
  readonly #last: number;
  /** Bytes of data C may read (elements × element size, measured at construction; the #last probe
   * shows they are still there at each call): the capacity C checks its own reach against. */
  readonly #bytes: number;
  readonly #rows: number;
  readonly #cols: number;
  readonly #scratchBytes: number;
  readonly #format: MatrixFormat;

  constructor(format: MatrixFormat, data: TypedArray, elements: number, rows: number, cols: number) {
    const info = FORMATS[format];
    if (info === undefined || !info.matrix) {
      throw new LlmemError("INVALID_ARGUMENT", `format ${describeValue(format)} is not a matrix format`, {
        argument: "format",
      });
    }
    for (const [name, v] of [
      ["rows", rows],
      ["cols", cols],
    ] as const) {
      if (!(Number.isInteger(v) && v >= 0 && v <= U32_MAX)) {
        throw new LlmemError(
          "OUT_OF_RANGE",
          `${name} must be a whole number in [0, 2^32 - 1], got ${describeValue(v)}`,
          {
            argument: name,
          },
        );
      }
    }
    // What C will read, from the format table, not from the caller's count.
    const need = rows * bytesFor(format, cols);
    viewPtr("w.data", data, 0, elements); // throws unless data holds `elements` elements
    const bytes = elements * engineElementBytes(data);
    if (!(bytes >= need)) {
      throw new LlmemError(
        "OUT_OF_BOUNDS",
        `w.data holds ${elements} elements, ${rows}×${cols} ${format} needs ${need} bytes`,
        {
          argument: "w.data",
          required: need,
        },
      );
    }
    this.#id = info.id;
    this.#format = format;
    this.#data = data;
    this.#last = elements - 1;
    this.#bytes = bytes;
    this.#rows = rows;
    this.#cols = cols;
    this.#scratchBytes = matvecScratchBytes(format, cols);
  }

  /** Bytes of scratch matvec needs (0 when the format's dot pairs with f32 x). */
  get scratchBytes(): number {
    return this.#scratchBytes;
  }

  /** y = W x: x holds cols values, y gets rows values; scratch holds scratchBytes bytes (checked). */
  matvec(x: Float32Array, y: Float32Array, scratch: Uint8Array | null): void {
    if (!(typeof this === "object" && this !== null && #data in this)) {
      throw new LlmemError("INVALID_ARGUMENT", "matvec must be called on a NativeMatrix", {
        argument: "this",
      });
    }
    const data = this.#data;
    if (data[this.#last] === undefined) {
      throw new LlmemError("STALE_HANDLE", "w.data was detached or shrunk after the matrix was prepared", {
        argument: "w.data",
      });
    }
    const scratchBytes = this.#scratchBytes;
    if (scratchBytes > 0 && scratch === null) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${this.#format} matvec needs ${scratchBytes} bytes of scratch`,
        {
          argument: "scratch",
        },
      );
    }
    const rows = this.#rows;
    const cols = this.#cols;
    // The views decode passes (plain Float32Arrays, a Uint8Array of scratch) are vouched for in
    // a few ns each and reach C with the bytes proven; anything else is measured exactly.
    let code: number;
    if (
      plainF32Holds(x, cols) &&
      plainF32Holds(y, rows) &&
      (scratchBytes === 0 || bytesHold(scratch, scratchBytes))
    ) {
      code = loaded()!.llmem_matvec_checked(
        this.#id,
        data,
        this.#bytes,
        rows,
        cols,
        x,
        4 * cols,
        y,
        4 * rows,
        scratchBytes === 0 ? null : scratch,
        scratchBytes,
      );
    } else {
      code = loaded()!.llmem_matvec_checked(
        this.#id,
        data,
        this.#bytes,
        rows,
        cols,
        typedPtr("x", x, "Float32Array", 0, cols),
        Math.min(lastCapacity(), U32_MAX),
        typedPtr("y", y, "Float32Array", 0, rows),
        Math.min(lastCapacity(), U32_MAX),
        scratchBytes === 0 ? null : viewPtr("scratch", scratch!, 0, scratchBytes),
        scratchBytes === 0 ? 0 : Math.min(lastCapacity(), U32_MAX),
      );
    }
    if (code !== 0) throwRefusal(code, `llmem_matvec ${this.#format}`, "UNSUPPORTED");
  }

  /**
   * ys[k] = W_k x for 1-3 matrices of one format and width (a layer's Q, K and V; its gate and
   * up): x is converted once and all their rows are one pool job; each ys[k] gets exactly what
   * ms[k].matvec(x, ys[k], scratch) gives it. Checked as matvec, matrix by matrix.
   */
  static matvecParts(
    ms: readonly NativeMatrix[],
    x: Float32Array,
    ys: readonly Float32Array[],
    scratch: Uint8Array | null,
  ): void {
    if (!(Array.isArray(ms) && ms.length >= 1 && ms.length <= 3)) {
      throw new LlmemError("OUT_OF_RANGE", "matvecParts takes an array of 1 to 3 matrices", {
        argument: "ms",
      });
    }
    if (!(Array.isArray(ys) && ys.length === ms.length)) {
      throw new LlmemError("INVALID_ARGUMENT", `ys must hold one output per matrix (${ms.length})`, {
        argument: "ys",
      });
    }
    const m0 = ms[0]!;
    const count = ms.length;
    for (let k = 0; k < count; k++) {
      const m = ms[k]!;
      if (!(typeof m === "object" && m !== null && #data in m)) {
        throw new LlmemError("INVALID_ARGUMENT", `ms[${k}] must be a NativeMatrix`, { argument: `ms[${k}]` });
      }
      if (m.#id !== m0.#id || m.#cols !== m0.#cols) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `ms[${k}] is ${m.#rows}×${m.#cols} ${m.#format}; every matrix must be ${m0.#format} with ${m0.#cols} columns like ms[0]`,
          { argument: `ms[${k}]` },
        );
      }
      if (m.#data[m.#last] === undefined) {
        throw new LlmemError(
          "STALE_HANDLE",
          `ms[${k}].data was detached or shrunk after the matrix was prepared`,
          {
            argument: `ms[${k}].data`,
          },
        );
      }
    }
    const scratchBytes = m0.#scratchBytes;
    if (scratchBytes > 0 && scratch === null) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${m0.#format} matvec needs ${scratchBytes} bytes of scratch`,
        {
          argument: "scratch",
        },
      );
    }
    const cols = m0.#cols;
    const m1 = ms[1];
    const m2 = ms[2];
    // As matvec: plain views are vouched for in a few ns each and reach C with the bytes proven.
    let plain = plainF32Holds(x, cols) && (scratchBytes === 0 || bytesHold(scratch, scratchBytes));
    for (let k = 0; plain && k < count; k++) plain = plainF32Holds(ys[k], ms[k]!.#rows);
    if (plain) {
      const code = loaded()!.llmem_matvec3_checked(
        m0.#id,
        cols,
        x,
        4 * cols,
        scratchBytes === 0 ? null : scratch,
        scratchBytes,
        m0.#data,
        m0.#bytes,
        m0.#rows,
        ys[0]!,
        4 * m0.#rows,
        m1 === undefined ? null : m1.#data,
        m1 === undefined ? 0 : m1.#bytes,
        m1 === undefined ? 0 : m1.#rows,
        m1 === undefined ? null : ys[1]!,
        m1 === undefined ? 0 : 4 * m1.#rows,
        m2 === undefined ? null : m2.#data,
        m2 === undefined ? 0 : m2.#bytes,
        m2 === undefined ? 0 : m2.#rows,
        m2 === undefined ? null : ys[2]!,
        m2 === undefined ? 0 : 4 * m2.#rows,
      );
      if (code !== 0) throwRefusal(code, `llmem_matvec_parts ${m0.#format}`, "UNSUPPORTED");
      return;
    }
    const yPtr = (k: number): [NativePtr | null, number] => {
      const m = ms[k];
      if (m === undefined) return [null, 0];
      const y = typedPtr(`ys[${k}]`, ys[k]!, "Float32Array", 0, m.#rows);
      return [y, Math.min(lastCapacity(), U32_MAX)];
    };
    const [y0, y0Bytes] = yPtr(0);
    const [y1, y1Bytes] = yPtr(1);
    const [y2, y2Bytes] = yPtr(2);
    const xp = typedPtr("x", x, "Float32Array", 0, cols);
    const xBytes = Math.min(lastCapacity(), U32_MAX);
    const sp = scratchBytes === 0 ? null : viewPtr("scratch", scratch!, 0, scratchBytes);
    const code = loaded()!.llmem_matvec3_checked(
      m0.#id,
      cols,
      xp,
      xBytes,
      sp,
      scratchBytes === 0 ? 0 : Math.min(lastCapacity(), U32_MAX),
      m0.#data,
      m0.#bytes,
      m0.#rows,
      y0,
      y0Bytes,
      m1 === undefined ? null : m1.#data,
      m1 === undefined ? 0 : m1.#bytes,
      m1 === undefined ? 0 : m1.#rows,
      y1,
      y1Bytes,
      m2 === undefined ? null : m2.#data,
      m2 === undefined ? 0 : m2.#bytes,
      m2 === undefined ? 0 : m2.#rows,
      y2,
      y2Bytes,
    );
    if (code !== 0) throwRefusal(code, `llmem_matvec_parts ${m0.#format}`, "UNSUPPORTED");
  }
}

/**
 * Scratch bytes per token of llmem_matmul: matvecScratchBytes, plus two int32 half-block sums per
 * block when the dot pairs with q8_0 (the transposed tile's Σx terms, computed once per chunk),
 * rounded up to 64 (so each token's f32 scales start aligned); 0 when the format's dot pairs with
 * f32 x. A test checks it against llmem_matmul_scratch_stride.
 */
export function matmulScratchStride(format: MatrixFormat, cols: number): number {
  const sums = FORMATS[format].vecDot === "q8_0" ? (cols / 32) * 8 : 0;
  return Math.ceil((matvecScratchBytes(format, cols) + sums) / 64) * 64;
}

/** The library's own stride (0 when native is off), for the test that checks matmulScratchStride. */
export function nativeMatmulScratchStride(format: MatrixFormat, cols: number): number {
  const lib = loaded();
  return lib === null ? 0 : Number(lib.llmem_matmul_scratch_stride(FORMATS[format].id, cols));
}

/**
 * Y = X Wᵀ for a chunk of n tokens: x holds n × cols values (token-major), y gets n × rows.
 * w holds `elements` elements (rows × cols of `format`, as nativeMatvec); scratch, for formats
 * whose dot pairs with a quantized x, holds at least n · matmulScratchStride(format, cols) bytes
 * at a 4-byte aligned address (checked). The caller validated the matrix; x, y and scratch are
 * bounded here by what C reads and writes.
 */
export function nativeMatmul(
  format: MatrixFormat,
  w: TypedArray,
  elements: number,
  rows: number,
  cols: number,
  x: Float32Array,
  n: number,
  y: Float32Array,
  scratch: Uint8Array | null,
): void {
  const stride = matmulScratchStride(format, cols);
  if (stride > 0 && scratch === null) {
    throw new LlmemError("INVALID_ARGUMENT", `${format} matmul needs ${n * stride} bytes of scratch`, {
      argument: "scratch",
    });
  }
  const code = loaded()!.llmem_matmul_checked(
    FORMATS[format].id,
    viewPtr("w.data", w, 0, elements),
    lastCapacity(),
    rows,
    cols,
    typedPtr("x", x, "Float32Array", 0, n * cols),
    lastCapacity(),
    n,
    typedPtr("y", y, "Float32Array", 0, n * rows),
    lastCapacity(),
    stride === 0 ? null : alignedViewPtr("scratch", scratch!, 4, 0, n * stride),
    stride === 0 ? 0 : lastCapacity(),
  );
  if (code !== 0) throwRefusal(code, `llmem_matmul ${format}`, "UNSUPPORTED");
}

/** One matrix of nativeMatmulParts: rows × cols of the call's format in `elements` elements of w, into y. */
export interface MatmulPart {
  w: TypedArray;
  elements: number;
  rows: number;
  y: Float32Array;
}

/**
 * nativeMatmul for 1-3 matrices of one format and width that multiply the same chunk x (a layer's
 * Q, K and V; its gate and up): x is converted once and all their rows are one pool job; each
 * part's y gets exactly what nativeMatmul would give it. Bounded as nativeMatmul, part by part.
 */
export function nativeMatmulParts(
  format: MatrixFormat,
  cols: number,
  x: Float32Array,
  n: number,
  parts: readonly MatmulPart[],
  scratch: Uint8Array | null,
): void {
  if (!(parts.length >= 1 && parts.length <= 3)) {
    throw new LlmemError(
      "OUT_OF_RANGE",
      `matmul parts must number 1 to 3, got ${describeValue(parts.length)}`,
      {
        argument: "parts",
      },
    );
  }
  const stride = matmulScratchStride(format, cols);
  if (stride > 0 && scratch === null) {
    throw new LlmemError("INVALID_ARGUMENT", `${format} matmul needs ${n * stride} bytes of scratch`, {
      argument: "scratch",
    });
  }
  const [w0, wBytes0, rows0, y0, yBytes0] = partArgs(parts, 0, n);
  const [w1, wBytes1, rows1, y1, yBytes1] = partArgs(parts, 1, n);
  const [w2, wBytes2, rows2, y2, yBytes2] = partArgs(parts, 2, n);
  const xp = typedPtr("x", x, "Float32Array", 0, n * cols);
  const xBytes = lastCapacity();
  const sp = stride === 0 ? null : alignedViewPtr("scratch", scratch!, 4, 0, n * stride);
  const code = loaded()!.llmem_matmul3_checked(
    FORMATS[format].id,
    cols,
    xp,
    xBytes,
    n,
    sp,
    stride === 0 ? 0 : lastCapacity(),
    w0,
    wBytes0,
    rows0,
    y0,
    yBytes0,
    w1,
    wBytes1,
    rows1,
    y1,
    yBytes1,
    w2,
    wBytes2,
    rows2,
    y2,
    yBytes2,
  );
  if (code !== 0) throwRefusal(code, `llmem_matmul_parts ${format}`, "UNSUPPORTED");
}

/** Part k's W pointer and proven bytes, rows, Y pointer and proven bytes; null, 0 for an absent part. */
function partArgs(
  parts: readonly MatmulPart[],
  k: number,
  n: number,
): [NativePtr | null, number, number, NativePtr | null, number] {
  const p = parts[k];
  if (p === undefined) return [null, 0, 0, null, 0];
  const w = viewPtr(`parts[${k}].w`, p.w, 0, p.elements);
  const wBytes = lastCapacity();
  const y = typedPtr(`parts[${k}].y`, p.y, "Float32Array", 0, n * p.rows);
  return [w, wBytes, p.rows, y, lastCapacity()];
}

/** Threads libllmem's matvec uses (1..64); false when they could not start (native off: true). */
export function nativeSetThreads(n: number): boolean {
  const lib = loaded();
  return lib === null || lib.llmem_set_threads(n) === 0;
}

/**
 * The attention calls run once per head and KV block (kv-cache's paged kernel), mostly with the
 * views of the call before (the KV rows, the scores, the output), so each argument position
 * remembers the last view whose kind the engine confirmed and proves its bytes again with an
 * index probe (views.ts ProvenView: ~1 ns a view), and C is told the bytes proven; a new view
 * pays the engine's kind getter once, and one that fails goes the measured way (typedPtr/viewPtr
 * over a byte view: the engine's kind and lengths, ~10 ns a getter), which also names what is
 * wrong. The vectors' capacities, count and headDim go to C as u32 (llmem.h): the fast path takes
 * counts whose bytes fit, the exact path clamps capacities (stricter) and refuses counts past
 * 2^32. An offset into a view costs a `ptr()` either way.
 */
const provenVector = new ProvenView(); // query, or weights
const provenRows = new ProvenView();
const provenOut = new ProvenView();
const MAX_F32_VALUES = U32_MAX >>> 2;

/** Counts of floats whose bytes fit a u32, and an offset and span that are whole u32s (typeof
 * first: `>>>` on a bigint throws), as the fast paths take them. */
function fastCounts(count: unknown, headDim: unknown, offset: unknown, span: unknown): boolean {
  return (
    typeof count === "number" &&
    typeof headDim === "number" &&
    typeof offset === "number" &&
    typeof span === "number" &&
    count >>> 0 === count &&
    count <= MAX_F32_VALUES &&
    headDim >>> 0 === headDim &&
    headDim <= MAX_F32_VALUES &&
    offset >>> 0 === offset &&
    span >>> 0 === span
  );
}

function f32At(v: Float32Array, offset: number): Pointer | Float32Array {
  return offset === 0 ? v : ptr(v, 4 * offset);
}

/**
 * out[outOffset + t] = scale · (query · row_t), row t at rows' byte offsetBytes + t·strideBytes;
 * the first span bytes of rows hold every row. Plain numbers, not an options object: nothing a
 * getter could move between the checks and C, and no object per call.
 */
export function nativeAttnScores(
  format: RowFormat,
  query: Float32Array,
  rows: TypedArray,
  span: number,
  offsetBytes: number,
  strideBytes: number,
  count: number,
  headDim: number,
  scale: number,
  out: Float32Array,
  outOffset: number,
): void {
  if (
    !(
      fastCounts(count, headDim, outOffset, span) &&
      provenVector.holds(query, 4 * headDim, "Float32Array") &&
      provenOut.holds(out, 4 * (outOffset + count), "Float32Array") &&
      provenRows.holds(rows, span)
    )
  ) {
    attnScoresMeasured(
      format,
      query,
      rows,
      span,
      offsetBytes,
      strideBytes,
      count,
      headDim,
      scale,
      out,
      outOffset,
    );
    return;
  }
  const code = loaded()!.llmem_attn_scores_checked(
    FORMATS[format].id,
    query,
    4 * headDim,
    rows,
    span,
    offsetBytes,
    strideBytes,
    count,
    headDim,
    scale,
    f32At(out, outOffset),
    4 * count,
  );
  if (code !== 0) throwRefusal(code, `llmem_attn_scores ${format}`, "INVALID_ARGUMENT");
}

/** nativeAttnScores for views the fast test did not vouch for: each measured the engine's way. */
function attnScoresMeasured(
  format: RowFormat,
  query: Float32Array,
  rows: TypedArray,
  span: number,
  offsetBytes: number,
  strideBytes: number,
  count: number,
  headDim: number,
  scale: number,
  out: Float32Array,
  outOffset: number,
): void {
  const code = loaded()!.llmem_attn_scores_checked(
    FORMATS[format].id,
    typedPtr("query", query, "Float32Array", 0, headDim),
    Math.min(lastCapacity(), U32_MAX),
    viewPtr("keys", byteView(rows), 0, span),
    lastCapacity(),
    offsetBytes,
    strideBytes,
    checkU32("count", count),
    checkU32("headDim", headDim),
    scale,
    typedPtr("out", out, "Float32Array", outOffset, count),
    Math.min(lastCapacity(), U32_MAX),
  );
  if (code !== 0) throwRefusal(code, `llmem_attn_scores ${format}`, "INVALID_ARGUMENT");
}

/** out[d] += Σ_t weights[weightsOffset + t] · row_t[d] (rows laid out as nativeAttnScores'). */
export function nativeAttnWeightedSum(
  format: RowFormat,
  weights: Float32Array,
  weightsOffset: number,
  rows: TypedArray,
  span: number,
  offsetBytes: number,
  strideBytes: number,
  count: number,
  headDim: number,
  out: Float32Array,
): void {
  if (
    !(
      fastCounts(count, headDim, weightsOffset, span) &&
      provenVector.holds(weights, 4 * (weightsOffset + count), "Float32Array") &&
      provenOut.holds(out, 4 * headDim, "Float32Array") &&
      provenRows.holds(rows, span)
    )
  ) {
    attnWeightedSumMeasured(
      format,
      weights,
      weightsOffset,
      rows,
      span,
      offsetBytes,
      strideBytes,
      count,
      headDim,
      out,
    );
    return;
  }
  const code = loaded()!.llmem_attn_weighted_sum_checked(
    FORMATS[format].id,
    f32At(weights, weightsOffset),
    4 * count,
    rows,
    span,
    offsetBytes,
    strideBytes,
    count,
    headDim,
    out,
    4 * headDim,
  );
  if (code !== 0) throwRefusal(code, `llmem_attn_weighted_sum ${format}`, "INVALID_ARGUMENT");
}

/** nativeAttnWeightedSum for views the fast test did not vouch for: each measured the engine's way. */
function attnWeightedSumMeasured(
  format: RowFormat,
  weights: Float32Array,
  weightsOffset: number,
  rows: TypedArray,
  span: number,
  offsetBytes: number,
  strideBytes: number,
  count: number,
  headDim: number,
  out: Float32Array,
): void {
  const code = loaded()!.llmem_attn_weighted_sum_checked(
    FORMATS[format].id,
    typedPtr("weights", weights, "Float32Array", weightsOffset, count),
    Math.min(lastCapacity(), U32_MAX),
    viewPtr("values", byteView(rows), 0, span),
    lastCapacity(),
    offsetBytes,
    strideBytes,
    checkU32("count", count),
    checkU32("headDim", headDim),
    typedPtr("out", out, "Float32Array", 0, headDim),
    Math.min(lastCapacity(), U32_MAX),
  );
  if (code !== 0) throwRefusal(code, `llmem_attn_weighted_sum ${format}`, "INVALID_ARGUMENT");
}
