/** Q8_0: blocks of 32 values as { fp16 d; int8 qs[32] } (34 bytes), byte-exact with GGML. */
import { LlmemError } from "@llmem/core";
import { f16BitsToF32, f32ToF16Bits } from "./half.ts";

export const QK8_0 = 32;
export const Q8_0_BLOCK_BYTES = 34;

function checkWholeBlocks(count: number): number {
  if (count % QK8_0 !== 0) {
    throw new LlmemError("INVALID_ARGUMENT", `q8_0 needs a multiple of ${QK8_0} values, got ${count}`, {
      argument: "src",
      count,
    });
  }
  return count / QK8_0;
}

/** roundf: half away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

export function quantizeQ8_0(src: Float32Array): Uint8Array {
  const nb = checkWholeBlocks(src.length);
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(src[b * QK8_0 + j]!));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    dv.setUint16(b * Q8_0_BLOCK_BYTES, f32ToF16Bits(d), true);
    for (let j = 0; j < QK8_0; j++) {
      dv.setInt8(b * Q8_0_BLOCK_BYTES + 2 + j, roundHalfAway(Math.fround(src[b * QK8_0 + j]! * id)));
    }
  }
  return out;
}

export function dequantizeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const nb = checkWholeBlocks(count);
  if (bytes.length < nb * Q8_0_BLOCK_BYTES) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `bytes holds ${bytes.length} bytes, ${count} q8_0 values need ${nb * 34}`,
    );
  }
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < nb; b++) {
    const d = f16BitsToF32(dv.getUint16(b * Q8_0_BLOCK_BYTES, true));
    for (let j = 0; j < QK8_0; j++) out[b * QK8_0 + j] = dv.getInt8(b * Q8_0_BLOCK_BYTES + 2 + j) * d;
  }
  return out;
}
