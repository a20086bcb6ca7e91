import { checkSize } from "@llmem/core";
import { nativeLib } from "./library.ts";
import { checkLastError, lastCapacity, typedPtr } from "./pointers.ts";

/** TS reference for dotF32 (also the fallback when native is off); accumulates in f32 like C. */
export function dotF32Reference(a: Float32Array, b: Float32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = Math.fround(sum + Math.fround(a[i]! * b[i]!));
  return sum;
}

const U32_MAX = 0xffff_ffff;
/** The most f32 values one dot takes: 4n bytes must fit the u32 sizes C takes. */
const MAX_F32_VALUES = U32_MAX >>> 2;
const F32_PROTO = Float32Array.prototype;
const hasOwn = Object.hasOwn;

/**
 * Bytes of a Float32Array the engine measured, or -1 when the cheap test cannot vouch for them:
 * the exact Float32Array prototype and no own `byteLength` leave `v.byteLength` to the built-in
 * %TypedArray% getter (the engine's count; it throws for a DataView dressed in the prototype).
 * ~3 ns against ~10 for calling the intrinsic getter; the slow path decides every other case.
 */
function plainF32Bytes(v: unknown): number {
  if (!(ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === F32_PROTO && !hasOwn(v, "byteLength")))
    return -1;
  try {
    return (v as Float32Array).byteLength;
  } catch {
    return -1;
  }
}

/** Σ a[i]·b[i] over the first n elements (default: all of the shorter array's length must match). */
export function dotF32(a: Float32Array, b: Float32Array, n: number = a.length): number {
  const lib = nativeLib();
  if (lib !== null && (n | 0) === n && n > 0 && n <= MAX_F32_VALUES) {
    const aBytes = plainF32Bytes(a);
    const bBytes = plainF32Bytes(b);
    if (aBytes >= 4 * n && bBytes >= 4 * n) {
      // Capacities clamped to u32 (checked.c): smaller only makes C's check stricter.
      const r = lib.llmem_dot_f32_checked(a, Math.min(aBytes, U32_MAX), b, Math.min(bBytes, U32_MAX), n);
      if (Number.isNaN(r)) checkLastError(lib.llmem_last_error, "llmem_dot_f32");
      return r;
    }
  }
  return dotF32Checked(a, b, n, lib);
}

function dotF32Checked(
  a: Float32Array,
  b: Float32Array,
  n: number,
  lib: ReturnType<typeof nativeLib>,
): number {
  checkSize("n", n);
  if (n === 0) return 0;
  // The kind is checked too: C reads 4n bytes of each, so two Uint8Array(n) must not pass.
  const pa = typedPtr("a", a, "Float32Array", 0, n);
  const aBytes = Math.min(lastCapacity(), U32_MAX);
  const pb = typedPtr("b", b, "Float32Array", 0, n);
  if (!lib) return dotF32Reference(a, b, n);
  checkSize("n", n, MAX_F32_VALUES); // only views past 4 GiB get here: C takes u32 sizes
  const r = lib.llmem_dot_f32_checked(pa, aBytes, pb, Math.min(lastCapacity(), U32_MAX), n);
  if (Number.isNaN(r)) checkLastError(lib.llmem_last_error, "llmem_dot_f32");
  return r;
}
