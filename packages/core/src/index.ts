export { sealedChecksum, tokenFingerprint } from "./checksum.ts";
export { isLlmemError, LlmemError, type LlmemErrorCode, PoolExhaustedError } from "./errors.ts";
export {
  ALL_FORMATS,
  bytesFor,
  canonicalFormat,
  checkRowFormat,
  DTYPES,
  type DType,
  type FloatFormat,
  FORMAT_LIST,
  FORMATS,
  type Format,
  type FormatInfo,
  formatInfo,
  isBlockFormat,
  MATRIX_FORMATS,
  type MatrixFormat,
  QUANT_FORMATS,
  type QuantFormat,
  ROW_FORMATS,
  type RowFormat,
} from "./formats.ts";
export {
  engineBytes,
  isDetachedView,
  type TypedArray,
  type TypedArrayConstructor,
  typedArrayKind,
} from "./typed-arrays.ts";
export {
  checkFiniteNumber,
  checkInt,
  checkOneOf,
  checkPowerOfTwo,
  checkRange,
  checkSize,
  describeValue,
} from "./validate.ts";
