/** Argument checks shared by the caches; every one throws before any state changes. */
import { checkFiniteNumber, checkInt, LlmemError } from "@llmem/core";

export function checkFloat32Array(name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a Float32Array`, { argument: name });
  }
  if (value.buffer instanceof ArrayBuffer && value.buffer.detached) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached buffer`, { argument: name });
  }
  return value;
}

/** keys and values of whole tokens, [token][kvHead][headDim]; returns the token count. */
export function checkKeysValues(
  keys: unknown,
  values: unknown,
  tokenFloats: number,
  finite: boolean,
): number {
  const k = checkFloat32Array("keys", keys);
  const v = checkFloat32Array("values", values);
  if (k.length % tokenFloats !== 0) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `keys must hold whole tokens of numKvHeads*headDim = ${tokenFloats} floats, got ${k.length}`,
      { argument: "keys", length: k.length, tokenFloats },
    );
  }
  if (v.length !== k.length) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `values must hold as many floats as keys (${k.length}), got ${v.length}`,
      { argument: "values", length: v.length, expected: k.length },
    );
  }
  if (finite) {
    checkAllFinite("keys", k);
    checkAllFinite("values", v);
  }
  return k.length / tokenFloats;
}

export function checkAllFinite(name: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    // x - x is NaN exactly for NaN and ±Inf.
    if (x - x !== 0) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${name}[${i}] is ${x}: the quantized store cannot hold non-finite values`,
        { argument: name, index: i, value: x },
      );
    }
  }
}

export interface AttendOptions {
  /** Query heads; a multiple of numKvHeads (grouped-query attention). */
  numHeads: number;
  /** Score scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Output buffer of numHeads*headDim floats (default: a new one). */
  out?: Float32Array;
}

export interface CheckedAttend {
  numHeads: number;
  scale: number;
  out: Float32Array;
}

export function checkAttend(
  query: unknown,
  options: AttendOptions,
  numKvHeads: number,
  headDim: number,
): CheckedAttend {
  if (typeof options !== "object" || options === null) {
    throw new LlmemError("INVALID_ARGUMENT", "options must be an object with numHeads", {
      argument: "options",
    });
  }
  const numHeads = checkInt("numHeads", options.numHeads, 1, 65536);
  if (numHeads % numKvHeads !== 0) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `numHeads ${numHeads} must be a multiple of numKvHeads ${numKvHeads}`,
      { argument: "numHeads", value: numHeads, numKvHeads },
    );
  }
  const q = checkFloat32Array("query", query);
  if (q.length !== numHeads * headDim) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `query must hold numHeads*headDim = ${numHeads * headDim} floats, got ${q.length}`,
      { argument: "query", length: q.length, expected: numHeads * headDim },
    );
  }
  const scale =
    options.scale === undefined ? 1 / Math.sqrt(headDim) : checkFiniteNumber("scale", options.scale);
  let out = options.out;
  if (out === undefined) out = new Float32Array(q.length);
  else {
    checkFloat32Array("out", out);
    if (out.length !== q.length) {
      throw new LlmemError("INVALID_ARGUMENT", `out must hold ${q.length} floats, got ${out.length}`, {
        argument: "out",
        length: out.length,
        expected: q.length,
      });
    }
    out.fill(0);
  }
  return { numHeads, scale, out };
}
