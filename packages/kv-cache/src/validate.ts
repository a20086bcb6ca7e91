/** Argument checks shared by the caches; every one throws before any state changes. */
import { LlmemError } from "@llmem/core";
import { isDetachedView, typedArrayKind } from "@llmem/native";

/**
 * A live, plain Float32Array: the engine's kind, Float32Array.prototype exactly, and no own
 * `length`/`byteLength`, so every later `.length` read is the engine's (a subclass getter or an
 * own property could otherwise report one length to the checks and another to the kernels).
 */
export function checkFloat32Array(name: string, value: unknown): Float32Array {
  if (
    typedArrayKind(value) !== "Float32Array" ||
    Object.getPrototypeOf(value) !== Float32Array.prototype ||
    Object.hasOwn(value as object, "length") ||
    Object.hasOwn(value as object, "byteLength")
  ) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a plain Float32Array`, { argument: name });
  }
  if (isDetachedView(value as Float32Array)) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached buffer`, { argument: name });
  }
  return value as Float32Array;
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
