/**
 * GGUF tensors as the kernels take them, in the format the file stores them: zero-copy
 * views of the mapped file for every format the format table marks `matrix` (matvec takes
 * it); BF16 widened to f32 (exact) while no bf16 matvec exists, with x rounded to bf16 as
 * ggml rounds it. Token-embedding rows are dequantized one at a time from any float format
 * or any format the table marks `quant`.
 */
import { FORMAT_LIST, type FormatInfo, LlmemError, type MatrixFormat, type QuantFormat } from "@llmem/core";
import type { GgufFile, GgufTensor } from "@llmem/gguf";
import { dequantizeInto, fromBf16, fromF16 } from "@llmem/quant-kernels";
import type { EmbeddingTable, Linear } from "./model-weights.ts";

/** The format-table row of a ggml type (`q4_K`, spelled as ggml spells it or in lower case). */
function formatOf(t: GgufTensor): FormatInfo | undefined {
  const name = t.type.name.toLowerCase();
  return FORMAT_LIST.find((f) => f.name.toLowerCase() === name);
}

const MATVEC_TYPES = [...FORMAT_LIST.filter((f) => f.matrix).map((f) => f.name), "bf16"];
const ROW_TYPES = FORMAT_LIST.filter((f) => f.blockSize === 1 || f.quant).map((f) => f.name);

function unsupported(t: GgufTensor, use: string, supported: readonly string[]): LlmemError {
  return new LlmemError(
    "UNSUPPORTED",
    `GGUF tensor ${JSON.stringify(t.name)} has type ${t.type.name}, which llmem cannot use as ${use} yet (supported: ${supported.join(", ")})`,
    { tensor: t.name, type: t.type.name },
  );
}

/** The tensor, which must exist; `model` names what needs it (the architecture). */
export function requireTensor(file: GgufFile, name: string, model: string): GgufTensor {
  if (!file.hasTensor(name)) {
    throw new LlmemError(
      "FORMAT_ERROR",
      `GGUF tensor ${JSON.stringify(name)} is missing (a ${model} model needs it)`,
      {
        tensor: name,
      },
    );
  }
  return file.tensor(name);
}

/** Checks ggml dims (ne0 = values per row first). */
export function expectShape(t: GgufTensor, dims: readonly number[]): void {
  if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
    throw new LlmemError(
      "FORMAT_ERROR",
      `GGUF tensor ${JSON.stringify(t.name)} has shape [${t.dims.join(", ")}], expected [${dims.join(", ")}]`,
      { tensor: t.name, dims: t.dims, expected: dims },
    );
  }
}

/** A 1-D F32 tensor of `n` values (norm weights, biases), as a view. */
export function vectorF32(file: GgufFile, t: GgufTensor, n: number): Float32Array {
  expectShape(t, [n]);
  if (t.type.name !== "f32") throw unsupported(t, "a norm weight or bias", ["f32"]);
  return file.tensorF32(t.name);
}

/** A [cols, rows] matrix (ggml order) as a Linear over the file's bytes. */
export function linearOf(file: GgufFile, t: GgufTensor, cols: number, rows: number): Linear {
  expectShape(t, [cols, rows]);
  const f = formatOf(t);
  if (f?.name === "bf16" && !f.matrix) {
    return { w: { format: "f32", rows, cols, data: fromBf16(halfView(t)) }, round: "bf16" };
  }
  if (f === undefined || !f.matrix) throw unsupported(t, "a matrix", MATVEC_TYPES);
  const format = f.name as MatrixFormat;
  if (format === "f32") return { w: { format, rows, cols, data: file.tensorF32(t.name) } };
  // ggml multiplies F16 weights with x converted to fp16 (F16's vec_dot_type).
  if (format === "f16") return { w: { format, rows, cols, data: file.tensorF16(t.name) }, round: "f16" };
  return { w: { format, rows, cols, data: t.data } };
}

/** Rows of a [dim, vocab] table, dequantized on demand into the caller's buffer. */
export function embeddingOf(t: GgufTensor, dim: number, vocab: number, counted: boolean): EmbeddingTable {
  expectShape(t, [dim, vocab]);
  const f = formatOf(t);
  const type = f?.name;
  const rowBytes = (dim / t.type.blockSize) * t.type.typeSize;
  const bytesOf = (id: number) => t.data.subarray(id * rowBytes, (id + 1) * rowBytes);
  let row: (id: number, out: Float32Array) => void;
  switch (type) {
    case "f32":
    case "f16":
    case "bf16": {
      const n = dim;
      // Element views need alignment the file's bytes may lack at a row; copy the row's bytes.
      const scratch = new Uint8Array(rowBytes);
      const asF32 = new Float32Array(scratch.buffer, 0, type === "f32" ? n : 0);
      const asU16 = new Uint16Array(scratch.buffer, 0, type === "f32" ? 0 : n);
      row = (id, out) => {
        scratch.set(bytesOf(id));
        if (type === "f32") out.set(asF32);
        else if (type === "f16") fromF16(asU16, out);
        else fromBf16(asU16, out);
      };
      break;
    }
    default:
      if (f === undefined || !f.quant) throw unsupported(t, "the token embedding", ROW_TYPES);
      row = (id, out) => dequantizeInto(f.name as QuantFormat, bytesOf(id), out);
  }
  return { row, bytes: counted ? t.byteLength : 0 };
}

function halfView(t: GgufTensor): Uint16Array {
  if (t.data.byteOffset % 2 !== 0) {
    throw new LlmemError("MISALIGNED", `GGUF tensor ${JSON.stringify(t.name)} is not 2-byte aligned`, {
      tensor: t.name,
    });
  }
  return new Uint16Array(t.data.buffer, t.data.byteOffset, t.elementCount);
}
