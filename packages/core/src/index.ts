export type {
  TypedArray,
  TypedArrayConstructor,
} from "./dtypes.ts";
export { isLlmemError, LlmemError, type LlmemErrorCode, PoolExhaustedError } from "./errors.ts";
export {
  checkFiniteNumber,
  checkInt,
  checkOneOf,
  checkPowerOfTwo,
  checkRange,
  checkSize,
} from "./validate.ts";
