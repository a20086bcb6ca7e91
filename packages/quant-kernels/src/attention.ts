/**
 * Attention building blocks over K/V rows stored in any row format, addressed in bytes
 * inside any typed array (so [token][kvHead][headDim] layouts need no copies). Quantized
 * rows are decoded block by block in registers; no f32 copy of a row is ever made.
 */
import { checkFiniteNumber, checkInt, checkSize, LlmemError, type TypedArray } from "@llmem/core";
import {
  byteOffsetOf,
  byteView,
  checkedByteLength,
  checkedLength,
  FORMATS,
  isPlainF32,
  matvecNative,
  nativeAttnScores,
  nativeAttnWeightedSum,
} from "@llmem/native";
import { checkRowFormat, type RowFormat, rowBytes, wholeBlocks } from "./formats.ts";
import { bf16Values, f16Values } from "./half.ts";
import { rowAxpyQ, rowDotQ } from "./reference/matvec.ts";

export interface RowLayout {
  /** Rows to visit. */
  count: number;
  /** Values per row (a multiple of 32 for the block formats). */
  headDim: number;
  /** Byte offset of row 0 inside the array's bytes. */
  offsetBytes: number;
  /** Bytes from one row to the next (may exceed the row size: rows of other heads in between). */
  strideBytes: number;
}

export interface ScoresOptions extends RowLayout {
  scale: number;
}

export interface WeightedSumOptions extends RowLayout {
  /** Index of the weight of row 0 (default 0). */
  weightsOffset?: number;
}

const MAX_HEAD_DIM = 1 << 20;
const fr = Math.fround;

function fail(code: "INVALID_ARGUMENT" | "OUT_OF_BOUNDS" | "MISALIGNED", msg: string, details = {}): never {
  throw new LlmemError(code, msg, details);
}

/** INVALID_ARGUMENT unless the options are an object (checked before any field is read). */
function checkOptions(o: unknown): void {
  if (typeof o !== "object" || o === null) fail("INVALID_ARGUMENT", "options must be an object");
}

/**
 * Validates the layout (fields read once by the caller) against the array's bytes (as the engine
 * counts them: see @llmem/native views.ts); returns the byte span the rows cover.
 */
function checkRows(
  format: RowFormat,
  name: string,
  rows: TypedArray,
  countIn: unknown,
  headDimIn: unknown,
  offsetIn: unknown,
  strideIn: unknown,
): number {
  const have = checkedByteLength(name, rows);
  const count = checkSize("count", countIn, 2 ** 32);
  const headDim = checkInt("headDim", headDimIn, 1, MAX_HEAD_DIM);
  const offset = checkSize("offsetBytes", offsetIn);
  const stride = checkSize("strideBytes", strideIn);
  if (FORMATS[format].blockSize > 1) wholeBlocks("headDim", format, headDim);
  const bytes = rowBytes(format, headDim);
  if (count === 0) return 0;
  const align = format === "f32" ? 4 : format === "f16" || format === "bf16" ? 2 : 1;
  if ((byteOffsetOf(rows) + offset) % align !== 0 || stride % align !== 0) {
    fail(
      "MISALIGNED",
      `${format} rows of ${name} must start on ${align}-byte boundaries (offsetBytes ${offset}, strideBytes ${stride})`,
      {
        argument: name,
        align,
      },
    );
  }
  const span = offset + (count - 1) * stride + bytes;
  if (span > have) {
    fail(
      "OUT_OF_BOUNDS",
      `${name}: ${count} rows of ${bytes} bytes at offsetBytes ${offset}, strideBytes ${stride} end at byte ${span}, past its ${have} bytes`,
      { argument: name, required: span, length: have },
    );
  }
  return span;
}

function checkF32(name: string, v: unknown, need: number, what: string): Float32Array {
  // Room as the engine counts it (see @llmem/native views.ts): a subclass's length could claim more, and
  // byteLength bounds what C may touch whatever the prototype says.
  if (isPlainF32(v) && v.byteLength >= need * 4 && v.byteLength > 0) return v;
  const have = checkedLength(name, v, "Float32Array");
  if (have < need) {
    fail("OUT_OF_BOUNDS", `${name} has ${have} values, ${what} need ${need}`, {
      argument: name,
      length: have,
      required: need,
    });
  }
  return v as Float32Array;
}

/** Every argument of attentionScores (both paths, fields read once by the caller); returns the
 * byte span of the keys. */
function checkScores(
  format: RowFormat,
  query: Float32Array,
  keys: TypedArray,
  count: number,
  headDim: number,
  offsetBytes: number,
  strideBytes: number,
  scale: number,
  out: Float32Array,
  outOffset: number,
): number {
  checkRowFormat(format);
  const span = checkRows(format, "keys", keys, count, headDim, offsetBytes, strideBytes);
  checkF32("query", query, headDim, "headDim");
  checkFiniteNumber("scale", scale);
  checkSize("outOffset", outOffset);
  checkF32("out", out, outOffset + count, "outOffset + count");
  return span;
}

/** Every argument of attentionWeightedSum (both paths, fields read once by the caller); returns
 * the byte span of the values. */
function checkWeightedSum(
  format: RowFormat,
  weights: Float32Array,
  values: TypedArray,
  count: number,
  headDim: number,
  offsetBytes: number,
  strideBytes: number,
  weightsOffset: number,
  out: Float32Array,
): number {
  checkRowFormat(format);
  const span = checkRows(format, "values", values, count, headDim, offsetBytes, strideBytes);
  checkSize("weightsOffset", weightsOffset);
  checkF32("weights", weights, weightsOffset + count, "weightsOffset + count");
  checkF32("out", out, headDim, "headDim");
  return span;
}

/** out[outOffset + t] = scale · (query · key_t) for t < count. */
export function attentionScores(
  format: RowFormat,
  query: Float32Array,
  keys: TypedArray,
  options: ScoresOptions,
  out: Float32Array,
  outOffset = 0,
): void {
  checkOptions(options);
  // Each field read once, into locals: a getter must not hand C a geometry other than the one
  // checked (locals, not a copy of the options: an object per call was ~10% of a small call).
  const count = options.count;
  const headDim = options.headDim;
  const offsetBytes = options.offsetBytes;
  const strideBytes = options.strideBytes;
  const scale = options.scale;
  const span = checkScores(
    format,
    query,
    keys,
    count,
    headDim,
    offsetBytes,
    strideBytes,
    scale,
    out,
    outOffset,
  );
  if (count === 0) return;
  if (matvecNative()) {
    nativeAttnScores(
      format,
      query,
      keys,
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
  scoresRef(
    format,
    query,
    byteView(keys),
    { count, headDim, offsetBytes, strideBytes },
    scale,
    out,
    outOffset,
  );
}

/** out[d] += Σ_t weights[weightsOffset + t] · value_t[d] for d < headDim (accumulates). */
export function attentionWeightedSum(
  format: RowFormat,
  weights: Float32Array,
  values: TypedArray,
  options: WeightedSumOptions,
  out: Float32Array,
): void {
  checkOptions(options);
  const count = options.count;
  const headDim = options.headDim;
  const offsetBytes = options.offsetBytes;
  const strideBytes = options.strideBytes;
  const wo = options.weightsOffset ?? 0;
  const span = checkWeightedSum(format, weights, values, count, headDim, offsetBytes, strideBytes, wo, out);
  if (count === 0) return;
  if (matvecNative()) {
    nativeAttnWeightedSum(format, weights, wo, values, span, offsetBytes, strideBytes, count, headDim, out);
    return;
  }
  weightedSumRef(format, weights, wo, byteView(values), { count, headDim, offsetBytes, strideBytes }, out);
}

/**
 * f32 or 16-bit views from row 0 on, which checkRows made element-aligned (the array itself
 * may not be); 16-bit rows come with the table that decodes their bits (f16 or bf16).
 */
function floatRows(
  format: RowFormat,
  bytes: Uint8Array,
  o: RowLayout,
): { f32?: Float32Array; u16?: Uint16Array; t16?: Float32Array } {
  const span = (o.count - 1) * o.strideBytes + rowBytes(format, o.headDim);
  const base = bytes.byteOffset + o.offsetBytes;
  if (format === "f32") return { f32: new Float32Array(bytes.buffer, base, span / 4) };
  if (format === "f16") return { u16: new Uint16Array(bytes.buffer, base, span / 2), t16: f16Values() };
  if (format === "bf16") return { u16: new Uint16Array(bytes.buffer, base, span / 2), t16: bf16Values() };
  return {};
}

function scoresRef(
  format: RowFormat,
  q: Float32Array,
  kb: Uint8Array,
  o: RowLayout,
  scale: number,
  out: Float32Array,
  outOffset: number,
): void {
  const { count, headDim: n, offsetBytes, strideBytes } = o;
  const { f32, u16, t16 } = floatRows(format, kb, o);
  for (let t = 0; t < count; t++) {
    const at = offsetBytes + t * strideBytes;
    let acc = 0;
    if (f32) {
      const e = (t * strideBytes) / 4;
      for (let i = 0; i < n; i++) acc = fr(acc + fr(q[i]! * f32[e + i]!));
    } else if (u16 && t16) {
      const e = (t * strideBytes) / 2;
      for (let i = 0; i < n; i++) acc = fr(acc + fr(q[i]! * t16[u16[e + i]!]!));
    } else {
      acc = rowDotQ(format as "q8_0", q, kb, at, n);
    }
    out[outOffset + t] = fr(fr(scale) * acc); // the native side receives scale as an f32
  }
}

function weightedSumRef(
  format: RowFormat,
  w: Float32Array,
  wo: number,
  vb: Uint8Array,
  o: RowLayout,
  out: Float32Array,
): void {
  const { count, headDim: n, offsetBytes, strideBytes } = o;
  const { f32, u16, t16 } = floatRows(format, vb, o);
  for (let t = 0; t < count; t++) {
    const at = offsetBytes + t * strideBytes;
    const wt = w[wo + t]!;
    if (f32) {
      const e = (t * strideBytes) / 4;
      for (let i = 0; i < n; i++) out[i] = out[i]! + fr(wt * f32[e + i]!);
    } else if (u16 && t16) {
      const e = (t * strideBytes) / 2;
      for (let i = 0; i < n; i++) out[i] = out[i]! + fr(wt * t16[u16[e + i]!]!);
    } else {
      rowAxpyQ(format as "q8_0", wt, vb, at, out, n);
    }
  }
}

/** The TS reference paths, whatever the backend (arguments validated exactly as above). */
export const referenceAttention = {
  scores(
    format: RowFormat,
    query: Float32Array,
    keys: TypedArray,
    o: ScoresOptions,
    out: Float32Array,
    outOffset = 0,
  ) {
    checkOptions(o);
    const { count, headDim, offsetBytes, strideBytes, scale } = o;
    checkScores(format, query, keys, count, headDim, offsetBytes, strideBytes, scale, out, outOffset);
    if (count > 0) {
      scoresRef(
        format,
        query,
        byteView(keys),
        { count, headDim, offsetBytes, strideBytes },
        scale,
        out,
        outOffset,
      );
    }
  },
  weightedSum(
    format: RowFormat,
    weights: Float32Array,
    values: TypedArray,
    o: WeightedSumOptions,
    out: Float32Array,
  ) {
    checkOptions(o);
    const { count, headDim, offsetBytes, strideBytes } = o;
    const wo = o.weightsOffset ?? 0;
    checkWeightedSum(format, weights, values, count, headDim, offsetBytes, strideBytes, wo, out);
    if (count > 0) {
      weightedSumRef(
        format,
        weights,
        wo,
        byteView(values),
        { count, headDim, offsetBytes, strideBytes },
        out,
      );
    }
  },
};
