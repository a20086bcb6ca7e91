/**
 * quantize / dequantize in every block format, with caller-provided outputs so a decode
 * loop allocates nothing. Native when libllmem is loaded, the TS reference otherwise;
 * both produce identical bytes.
 */
import { checkSize, LlmemError } from "@llmem/core";
import {
  checkedByteLength,
  checkedLength,
  FORMATS,
  isPlainBytes,
  isPlainF32,
  nativeDequantize,
  nativeQuantize,
  quantNative,
} from "@llmem/native";
import { blockBytes, checkQuantFormat, type QuantFormat, quantGeometry, wholeBlocks } from "./formats.ts";
import {
  dequantizeQ4_0Blocks,
  dequantizeQ4_1Blocks,
  dequantizeQ8_0Blocks,
  dequantizeQ8_1Blocks,
  quantizeQ4_0Blocks,
  quantizeQ4_1Blocks,
  quantizeQ8_0Blocks,
  quantizeQ8_1Blocks,
} from "./reference/blocks.ts";
import {
  dequantizeIq4NlBlocks,
  dequantizeIq4XsBlocks,
  quantizeIq4NlBlocks,
  quantizeIq4XsBlocks,
} from "./reference/iq4.ts";
import {
  dequantizeQ2_KBlocks,
  dequantizeQ3_KBlocks,
  dequantizeQ4_KBlocks,
  dequantizeQ5_KBlocks,
  dequantizeQ6_KBlocks,
  dequantizeQ8_KBlocks,
  quantizeQ2_KBlocks,
  quantizeQ3_KBlocks,
  quantizeQ4_KBlocks,
  quantizeQ5_KBlocks,
  quantizeQ6_KBlocks,
  quantizeQ8_KBlocks,
} from "./reference/kquants.ts";
import {
  dequantizeQ5_0Blocks,
  dequantizeQ5_1Blocks,
  quantizeQ5_0Blocks,
  quantizeQ5_1Blocks,
} from "./reference/q5.ts";

type QuantizeBlocks = (src: Float32Array, dst: Uint8Array, nb: number) => void;
type DequantizeBlocks = (src: Uint8Array, dst: Float32Array, nb: number) => void;

const QUANTIZE_REF: Record<QuantFormat, QuantizeBlocks> = {
  q8_0: quantizeQ8_0Blocks,
  q4_0: quantizeQ4_0Blocks,
  q4_1: quantizeQ4_1Blocks,
  q8_1: quantizeQ8_1Blocks,
  q8_K: quantizeQ8_KBlocks,
  q4_K: quantizeQ4_KBlocks,
  q5_K: quantizeQ5_KBlocks,
  q2_K: quantizeQ2_KBlocks,
  q3_K: quantizeQ3_KBlocks,
  q6_K: quantizeQ6_KBlocks,
  q5_0: quantizeQ5_0Blocks,
  q5_1: quantizeQ5_1Blocks,
  iq4_nl: quantizeIq4NlBlocks,
  iq4_xs: quantizeIq4XsBlocks,
};
const DEQUANTIZE_REF: Record<QuantFormat, DequantizeBlocks> = {
  q8_0: dequantizeQ8_0Blocks,
  q4_0: dequantizeQ4_0Blocks,
  q4_1: dequantizeQ4_1Blocks,
  q8_1: dequantizeQ8_1Blocks,
  q8_K: dequantizeQ8_KBlocks,
  q4_K: dequantizeQ4_KBlocks,
  q5_K: dequantizeQ5_KBlocks,
  q2_K: dequantizeQ2_KBlocks,
  q3_K: dequantizeQ3_KBlocks,
  q6_K: dequantizeQ6_KBlocks,
  q5_0: dequantizeQ5_0Blocks,
  q5_1: dequantizeQ5_1Blocks,
  iq4_nl: dequantizeIq4NlBlocks,
  iq4_xs: dequantizeIq4XsBlocks,
};

/** The message is built only on failure. */
function checkCapacity(name: string, have: number, need: number, count: number, format: QuantFormat): void {
  if (have < need) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `${name} holds ${have} bytes, ${count} ${format} values need ${need}`,
      {
        argument: name,
        length: have,
        required: need,
      },
    );
  }
}

/** Bytes that `count` values take in `format` (count a multiple of its block size: 32, or 256 for the K-quants). */
export function quantizedBytes(name: QuantFormat, count: number): number {
  const format = checkQuantFormat(name);
  checkSize("count", count);
  return wholeBlocks("count", format, count) * blockBytes(format);
}

/**
 * Quantizes src (a whole number of the format's blocks: 32 values, 256 for the K-quants) into the first bytes of dst, which must hold
 * quantizedBytes(format, src.length) bytes. Throws before writing anything on bad input.
 */
export function quantizeInto(format: QuantFormat, src: Float32Array, dst: Uint8Array): void {
  // Hot path: plain arrays, whole blocks, room enough, native loaded. Everything else, errors
  // included, goes to quantizeIntoChecked, kept out of line so this function stays small.
  const g = quantGeometry(format);
  if (g !== undefined && isPlainF32(src) && isPlainBytes(dst)) {
    const count = src.length;
    if (
      count % g.blockSize === 0 &&
      count > 0 &&
      src.byteLength === count * 4 &&
      dst.byteLength >= (count / g.blockSize) * g.blockBytes &&
      // Index probes (see @llmem/native views.ts, "index probes"): the engine's own bounds, so
      // an own length/byteLength cannot claim room that is not there.
      src[count - 1] !== undefined &&
      dst[(count / g.blockSize) * g.blockBytes - 1] !== undefined
    ) {
      if (quantNative()) {
        // Whole views: the FFI passes each one's first element, and the checks above proved C
        // stays inside both.
        nativeQuantize(g, src, dst, count);
        return;
      }
    }
  }
  quantizeIntoChecked(format, src, dst);
}

function quantizeIntoChecked(name: QuantFormat, src: Float32Array, dst: Uint8Array): void {
  const format = checkQuantFormat(name);
  const count = checkedLength("src", src, "Float32Array");
  const have = checkedLength("dst", dst, "Uint8Array");
  const nb = wholeBlocks("src", format, count);
  checkCapacity("dst", have, nb * blockBytes(format), count, format);
  if (nb === 0) return;
  if (quantNative()) nativeQuantize(FORMATS[format], src, dst, count);
  else QUANTIZE_REF[format](src, dst, nb);
}

export function quantize(name: QuantFormat, src: Float32Array): Uint8Array {
  const format = checkQuantFormat(name);
  const count = checkedLength("src", src, "Float32Array");
  const dst = new Uint8Array(wholeBlocks("src", format, count) * blockBytes(format));
  quantizeInto(format, src, dst);
  return dst;
}

/** Dequantizes dst.length values (a multiple of 32) from the first bytes of `bytes`. */
export function dequantizeInto(format: QuantFormat, bytes: Uint8Array, dst: Float32Array): void {
  // Same shape as quantizeInto: one small hot function, the rest out of line.
  const g = quantGeometry(format);
  if (g !== undefined && isPlainBytes(bytes) && isPlainF32(dst)) {
    const count = dst.length;
    if (
      count % g.blockSize === 0 &&
      count > 0 &&
      dst.byteLength === count * 4 &&
      bytes.byteLength >= (count / g.blockSize) * g.blockBytes &&
      dst[count - 1] !== undefined &&
      bytes[(count / g.blockSize) * g.blockBytes - 1] !== undefined
    ) {
      if (quantNative()) {
        nativeDequantize(g, bytes, dst, count);
        return;
      }
    }
  }
  dequantizeIntoChecked(format, bytes, dst);
}

function dequantizeIntoChecked(name: QuantFormat, bytes: Uint8Array, dst: Float32Array): void {
  const format = checkQuantFormat(name);
  const have = checkedLength("bytes", bytes, "Uint8Array");
  const count = checkedLength("dst", dst, "Float32Array");
  const nb = wholeBlocks("dst", format, count);
  checkCapacity("bytes", have, nb * blockBytes(format), count, format);
  if (nb === 0) return;
  if (quantNative()) nativeDequantize(FORMATS[format], bytes, dst, count);
  else DEQUANTIZE_REF[format](bytes, dst, nb);
}

export function dequantize(name: QuantFormat, bytes: Uint8Array, count: number): Float32Array {
  const format = checkQuantFormat(name);
  // Bounded before allocating: a count of 2^32 must be an LlmemError, not a RangeError (or 16 GiB)
  // for bytes that cannot hold it anyway. The bytes' own check (dequantizeInto) stays the exact one.
  checkSize("count", count, 2 ** 31 - 1);
  wholeBlocks("count", format, count);
  const g = quantGeometry(format)!;
  const need = (count / g.blockSize) * g.blockBytes;
  const have = checkedByteLength("bytes", bytes);
  if (have < need) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `bytes holds ${have} bytes, ${count} ${format} values need ${need}`,
      {
        argument: "bytes",
        length: have,
        required: need,
      },
    );
  }
  const dst = new Float32Array(count);
  dequantizeInto(format, bytes, dst);
  return dst;
}

/** The TS reference, whatever the backend (tests cross-check it against native). */
export const reference = {
  quantizeInto(name: QuantFormat, src: Float32Array, dst: Uint8Array): void {
    const format = checkQuantFormat(name);
    QUANTIZE_REF[format](src, dst, wholeBlocks("src", format, src.length));
  },
  dequantizeInto(name: QuantFormat, bytes: Uint8Array, dst: Float32Array): void {
    const format = checkQuantFormat(name);
    DEQUANTIZE_REF[format](bytes, dst, wholeBlocks("dst", format, dst.length));
  },
};

/** Values per Q8_0 block and its bytes (kept from the first API; same as QK and blockBytes("q8_0")). */
export const QK8_0 = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** quantize("q8_0", src), kept from the first API. */
export function quantizeQ8_0(src: Float32Array): Uint8Array {
  return quantize("q8_0", src);
}

/** dequantize("q8_0", bytes, count), kept from the first API. */
export function dequantizeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  return dequantize("q8_0", bytes, count);
}
