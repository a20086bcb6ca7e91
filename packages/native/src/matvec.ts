/**
 * libllmem's matvec, thread count and attention building blocks (quant-kernels' native paths).
 * The caller validates shapes (the same checks guard its TS path); every pointer is derived here
 * by viewPtr, bounded by the count the caller proved, and a refused call throws.
 */
import {
  bytesFor,
  FORMATS,
  LlmemError,
  type MatrixFormat,
  type RowFormat,
  type TypedArray,
} from "@llmem/core";
import { loaded } from "./loaded.ts";
import { typedPtr, viewPtr } from "./pointers.ts";

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
  const scratchBytes = matvecScratchBytes(format, cols);
  if (scratchBytes > 0 && scratch === null) {
    throw new LlmemError("INVALID_ARGUMENT", `${format} matvec needs ${scratchBytes} bytes of scratch`, {
      argument: "scratch",
    });
  }
  const code = loaded()!.llmem_matvec(
    FORMATS[format].id,
    viewPtr("w.data", w, 0, elements),
    rows,
    cols,
    // x and y bounded by what C reads and writes (cols, rows), in the engine's Float32 elements.
    typedPtr("x", x, "Float32Array", 0, cols),
    typedPtr("y", y, "Float32Array", 0, rows),
    scratchBytes === 0 ? null : viewPtr("scratch", scratch!, 0, scratchBytes),
  );
  if (code !== 0) throw new LlmemError("UNSUPPORTED", `llmem_matvec failed for ${format} (code ${code})`);
}

/** Threads libllmem's matvec uses (1..64); false when they could not start (native off: true). */
export function nativeSetThreads(n: number): boolean {
  const lib = loaded();
  return lib === null || lib.llmem_set_threads(n) === 0;
}

/** Row geometry of attention over rows at bytes[offsetBytes + t*strideBytes], t < count. */
export interface RowSpan {
  offsetBytes: number;
  strideBytes: number;
  count: number;
  headDim: number;
}

/** out[outOffset + t] = scale · (query · row_t); rowBytes[0..span) holds every row. */
export function nativeAttnScores(
  format: RowFormat,
  query: Float32Array,
  rows: Uint8Array,
  span: number,
  o: RowSpan,
  scale: number,
  out: Float32Array,
  outOffset: number,
): void {
  // Fields read once: the caller checked this geometry against span; a getter must not move it.
  const { offsetBytes, strideBytes, count, headDim } = o;
  loaded()!.llmem_attn_scores(
    FORMATS[format].id,
    typedPtr("query", query, "Float32Array", 0, headDim),
    viewPtr("keys", rows, 0, span),
    offsetBytes,
    strideBytes,
    count,
    headDim,
    scale,
    typedPtr("out", out, "Float32Array", outOffset, count),
  );
}

/** out[d] += Σ_t weights[weightsOffset + t] · row_t[d]. */
export function nativeAttnWeightedSum(
  format: RowFormat,
  weights: Float32Array,
  weightsOffset: number,
  rows: Uint8Array,
  span: number,
  o: RowSpan,
  out: Float32Array,
): void {
  const { offsetBytes, strideBytes, count, headDim } = o;
  loaded()!.llmem_attn_weighted_sum(
    FORMATS[format].id,
    typedPtr("weights", weights, "Float32Array", weightsOffset, count),
    viewPtr("values", rows, 0, span),
    offsetBytes,
    strideBytes,
    count,
    headDim,
    typedPtr("out", out, "Float32Array", 0, headDim),
  );
}
