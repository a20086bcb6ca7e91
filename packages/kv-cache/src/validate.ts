/** Argument checks shared by the caches; every one throws before any state changes. */
import { LlmemError } from "@llmem/core";

export function checkFloat32Array(name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a Float32Array`, { argument: name });
  }
  if (value.buffer instanceof ArrayBuffer && value.buffer.detached) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached buffer`, { argument: name });
  }
  return value;
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
