import { checkSize } from "@llmem/core";
import { nativeLib } from "./library.ts";
import { checkLastError, lastCapacity, typedPtr } from "./pointers.ts";

/** TS reference for dotF32 (also the fallback when native is off); accumulates in f32 like C. */
export function dotF32Reference(a: Float32Array, b: Float32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = Math.fround(sum + Math.fround(a[i]! * b[i]!));
  return sum;
}

/** Σ a[i]·b[i] over the first n elements (default: all of the shorter array's length must match). */
export function dotF32(a: Float32Array, b: Float32Array, n: number = a.length): number {
  checkSize("n", n);
  const lib = nativeLib();
  if (n === 0) return 0;
  // The kind is checked too: C reads 4n bytes of each, so two Uint8Array(n) must not pass.
  const pa = typedPtr("a", a, "Float32Array", 0, n);
  const aBytes = lastCapacity();
  const pb = typedPtr("b", b, "Float32Array", 0, n);
  if (!lib) return dotF32Reference(a, b, n);
  const r = lib.llmem_dot_f32_checked(pa, aBytes, pb, lastCapacity(), n);
  if (Number.isNaN(r)) checkLastError(lib.llmem_last_error, "llmem_dot_f32");
  return r;
}
