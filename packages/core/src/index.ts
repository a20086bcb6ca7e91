export {
  bytesFor,
  DTYPES,
  type DType,
  type DTypeInfo,
  type FloatDType,
  type QuantFormat,
  type TypedArray,
  type TypedArrayConstructor,
} from "./dtypes.ts";
export { sealedChecksum, tokenFingerprint } from "./checksum.ts";
export { isLlmemError, LlmemError, type LlmemErrorCode, PoolExhaustedError } from "./errors.ts";
export {
  checkFiniteNumber,
  checkInt,
  checkOneOf,
  checkPowerOfTwo,
  checkRange,
  checkSize,
} from "./validate.ts";
