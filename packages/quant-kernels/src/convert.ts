/** Array forms of the fp16/bf16 conversions (native when loaded; identical bits either way). */
import { LlmemError } from "@llmem/core";
import {
  checkedLength,
  isPlainF32,
  isPlainU16,
  nativeBf16ToF32,
  nativeF16ToF32,
  nativeF32ToBf16,
  nativeF32ToF16,
  quantNative,
} from "@llmem/native";
import { f16BitsToF32Bits, f32BitsToBf16Bits, f32BitsToF16Bits } from "./half.ts";

// biome-ignore lint/suspicious/noExplicitAny: one signature for the four converters
type NativeConvert = (src: any, dst: any, n: number) => void;
type Kind = "Float32Array" | "Uint16Array";

/**
 * The hot-path test (inlined into each conversion): a caller-provided dst whose bytes hold
 * exactly src.length elements, both plain arrays already checked by the caller, src not empty.
 */
function sameCount(
  src: Float32Array | Uint16Array,
  srcSize: number,
  dst: ArrayBufferView,
  dstSize: number,
): boolean {
  const n = src.length;
  return (
    n > 0 &&
    src.byteLength === n * srcSize &&
    dst.byteLength === n * dstSize &&
    // Index probes: the engine's bounds, whatever an own length/byteLength claims (views.ts).
    src[n - 1] !== undefined &&
    (dst as Float32Array)[n - 1] !== undefined
  );
}

/** Every case the fast path does not take: errors, a new dst, empty input, subclasses, native off. */
function convertChecked<D extends Float32Array | Uint16Array>(
  src: unknown,
  srcKind: Kind,
  dst: D | undefined,
  dstCtor: { new (n: number): D; name: string },
  fn: NativeConvert,
  bitsFn: (u: number) => number,
): D {
  const n = checkedLength("src", src, srcKind);
  let out: D;
  if (dst === undefined) {
    out = new dstCtor(n);
  } else {
    const m = checkedLength("dst", dst, dstCtor.name as Kind);
    if (m !== n) {
      throw new LlmemError("OUT_OF_BOUNDS", `dst has ${m} elements, src has ${n}: they must match`, {
        argument: "dst",
        length: m,
        required: n,
      });
    }
    out = dst;
  }
  if (n === 0) return out;
  if (quantNative()) {
    // Whole views: the FFI passes each one's first element; both hold n elements (checked above).
    fn(src, out, n);
    return out;
  }
  return convertRef(src as Float32Array | Uint16Array, out, bitsFn);
}

/** The TS path: through the bit patterns, so NaN payloads survive (a Float32Array read would canonicalize them). */
function convertRef<D extends Float32Array | Uint16Array>(
  src: Float32Array | Uint16Array,
  dst: D,
  bitsFn: (u: number) => number,
): D {
  const n = src.length;
  const s = src instanceof Float32Array ? new Uint32Array(src.buffer, src.byteOffset, n) : src;
  const d = dst instanceof Float32Array ? new Uint32Array(dst.buffer, dst.byteOffset, n) : dst;
  for (let i = 0; i < n; i++) d[i] = bitsFn(s[i]!);
  return dst;
}

/** f32 → fp16 bits, round to nearest even. Returns dst (new if not given; else same length as src). */
export function toF16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  if (isPlainF32(src) && isPlainU16(dst) && sameCount(src, 4, dst, 2)) {
    if (quantNative()) {
      nativeF32ToF16(src, dst, src.length);
      return dst;
    }
  }
  return convertChecked(src, "Float32Array", dst, Uint16Array, nativeF32ToF16, f32BitsToF16Bits);
}

export function fromF16(src: Uint16Array, dst?: Float32Array): Float32Array {
  if (isPlainU16(src) && isPlainF32(dst) && sameCount(src, 2, dst, 4)) {
    if (quantNative()) {
      nativeF16ToF32(src, dst, src.length);
      return dst;
    }
  }
  return convertChecked(src, "Uint16Array", dst, Float32Array, nativeF16ToF32, f16BitsToF32Bits);
}

export function toBf16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  if (isPlainF32(src) && isPlainU16(dst) && sameCount(src, 4, dst, 2)) {
    if (quantNative()) {
      nativeF32ToBf16(src, dst, src.length);
      return dst;
    }
  }
  return convertChecked(src, "Float32Array", dst, Uint16Array, nativeF32ToBf16, f32BitsToBf16Bits);
}

export function fromBf16(src: Uint16Array, dst?: Float32Array): Float32Array {
  if (isPlainU16(src) && isPlainF32(dst) && sameCount(src, 2, dst, 4)) {
    if (quantNative()) {
      nativeBf16ToF32(src, dst, src.length);
      return dst;
    }
  }
  return convertChecked(src, "Uint16Array", dst, Float32Array, nativeBf16ToF32, bf16ToBits);
}

const bf16ToBits = (h: number): number => (h << 16) >>> 0;

/** The TS reference conversions, whatever the backend (tests cross-check native against them). */
export const referenceConvert = {
  toF16: (src: Float32Array): Uint16Array => convertRef(src, new Uint16Array(src.length), f32BitsToF16Bits),
  fromF16: (src: Uint16Array): Float32Array =>
    convertRef(src, new Float32Array(src.length), f16BitsToF32Bits),
  toBf16: (src: Float32Array): Uint16Array => convertRef(src, new Uint16Array(src.length), f32BitsToBf16Bits),
  fromBf16: (src: Uint16Array): Float32Array => convertRef(src, new Float32Array(src.length), bf16ToBits),
};
