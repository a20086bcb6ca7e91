export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "./half.ts";
export { dequantizeQ8_0, Q8_0_BLOCK_BYTES, QK8_0, quantizeQ8_0 } from "./q8_0.ts";
