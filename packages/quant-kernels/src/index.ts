export {
  attentionScores,
  attentionWeightedSum,
  type RowLayout,
  referenceAttention,
  type ScoresOptions,
  type WeightedSumOptions,
} from "./attention.ts";
export { fromBf16, fromF16, referenceConvert, toBf16, toF16 } from "./convert.ts";
export {
  dotF16F32,
  dotF32,
  dotIq4NlQ8_0,
  dotIq4XsQ8_K,
  dotQ2_KQ8_K,
  dotQ3_KQ8_K,
  dotQ4_0Q8_0,
  dotQ4_1Q8_1,
  dotQ4_KQ8_K,
  dotQ5_0Q8_0,
  dotQ5_1Q8_1,
  dotQ5_KQ8_K,
  dotQ6_KQ8_K,
  dotQ8_0,
  referenceDot,
} from "./dot.ts";
export {
  blockBytes,
  type MatrixFormat,
  QK,
  QK_K,
  type QuantFormat,
  type RowFormat,
  rowBytes,
} from "./formats.ts";
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "./half.ts";
export {
  getThreads,
  type Matrix,
  matmul,
  matmulParts,
  matvec,
  matvecParts,
  matvecReference,
  prepareMatrix,
  setThreads,
} from "./matvec.ts";
export { dequantizeIntoMetal, matvecMetal, metalAvailable } from "./metal.ts";
export {
  dequantize,
  dequantizeInto,
  dequantizeQ8_0,
  Q8_0_BLOCK_BYTES,
  QK8_0,
  quantize,
  quantizedBytes,
  quantizeInto,
  quantizeQ8_0,
  reference,
} from "./quantize.ts";
