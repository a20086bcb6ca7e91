/** Array forms of the fp16/bf16 conversions (native when loaded; identical bits either way). */
import { LlmemError } from "@llmem/core";
import { nativeLib, viewPtr } from "@llmem/native";
import { f16BitsToF32Bits, f32BitsToBf16Bits, f32BitsToF16Bits } from "./half.ts";

function checkKind<T>(name: string, v: unknown, ctor: { new (n: number): T; name: string }): T {
  if (!(v instanceof ctor)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a ${ctor.name}`, { argument: name });
  }
  return v;
}

function output<T extends Float32Array | Uint16Array>(
  dst: T | undefined,
  ctor: { new (n: number): T; name: string },
  n: number,
): T {
  if (dst === undefined) return new ctor(n);
  checkKind("dst", dst, ctor);
  if (dst.length !== n) {
    throw new LlmemError("OUT_OF_BOUNDS", `dst has ${dst.length} elements, src has ${n}: they must match`, {
      argument: "dst",
      length: dst.length,
      required: n,
    });
  }
  return dst;
}

type NativeConvert = "llmem_f32_to_f16" | "llmem_f16_to_f32" | "llmem_f32_to_bf16" | "llmem_bf16_to_f32";

function convert<S extends Float32Array | Uint16Array, D extends Float32Array | Uint16Array>(
  src: S,
  dst: D,
  fn: NativeConvert,
  bitsFn: (u: number) => number,
): D {
  const n = src.length;
  if (n === 0) return dst;
  const lib = nativeLib();
  if (lib) {
    lib[fn](viewPtr("src", src) as never, viewPtr("dst", dst) as never, n);
    return dst;
  }
  return convertRef(src, dst, bitsFn);
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
  checkKind("src", src, Float32Array);
  return convert(src, output(dst, Uint16Array, src.length), "llmem_f32_to_f16", f32BitsToF16Bits);
}

export function fromF16(src: Uint16Array, dst?: Float32Array): Float32Array {
  checkKind("src", src, Uint16Array);
  return convert(src, output(dst, Float32Array, src.length), "llmem_f16_to_f32", f16BitsToF32Bits);
}

export function toBf16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  checkKind("src", src, Float32Array);
  return convert(src, output(dst, Uint16Array, src.length), "llmem_f32_to_bf16", f32BitsToBf16Bits);
}

export function fromBf16(src: Uint16Array, dst?: Float32Array): Float32Array {
  checkKind("src", src, Uint16Array);
  return convert(src, output(dst, Float32Array, src.length), "llmem_bf16_to_f32", bf16ToBits);
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
