import { checkSize } from "@llmem/core";
import { nativeLib } from "./library.ts";
import { checkLastError, lastCapacity, typedPtr } from "./pointers.ts";
import { typedArrayKind } from "./views.ts";

/** TS reference for dotF32 (also the fallback when native is off); accumulates in f32 like C. */
export function dotF32Reference(a: Float32Array, b: Float32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = Math.fround(sum + Math.fround(a[i]! * b[i]!));
  return sum;
}

const U32_MAX = 0xffff_ffff;
/** The most f32 values one dot takes: 4n bytes must fit the u32 sizes C takes. */
const MAX_F32_VALUES = U32_MAX >>> 2;
/**
 * The last two arrays the engine's own kind getter showed to be Float32Arrays (an object's kind
 * never changes, whatever its prototype or own properties become). With that, an index probe
 * (`v[n - 1] !== undefined`, answered by the engine's length for a real typed array) proves 4n
 * bytes: ~1 ns a call where the intrinsic getters cost ~10 each. The cache holds the two views
 * (not their contents) until the next call brings others, which is all it keeps alive.
 */
// A sentinel no argument can be: starting from null, dotF32(null, …) matched "proven" and the
// probe `a[n - 1]` threw a TypeError.
const NONE_PROVEN: unique symbol = Symbol("none proven");
let provenA: unknown = NONE_PROVEN;
let provenB: unknown = NONE_PROVEN;

function isEngineF32(v: unknown): boolean {
  return typedArrayKind(v) === "Float32Array";
}

/** Σ a[i]·b[i] over the first n elements (default: all of the shorter array's length must match). */
export function dotF32(a: Float32Array, b: Float32Array, n: number = a.length): number {
  const lib = nativeLib();
  // typeof first: `|` on a bigint throws a TypeError.
  if (lib !== null && typeof n === "number" && (n | 0) === n && n > 0 && n <= MAX_F32_VALUES) {
    if (a !== provenA && isEngineF32(a)) provenA = a;
    if (b !== provenB && isEngineF32(b)) provenB = b;
    if (a === provenA && b === provenB && a[n - 1] !== undefined && b[n - 1] !== undefined) {
      const r = lib.llmem_dot_f32_checked(a, 4 * n, b, 4 * n, n);
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
