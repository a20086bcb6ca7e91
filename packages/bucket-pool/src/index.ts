export type { BackendKind } from "./backend.ts";
export {
  type Bucketing,
  type BucketMode,
  DEFAULT_SIZE_CLASSES,
  fineBucketing,
  fixedBucketing,
  MAX_BUFFER_BYTES,
  pow2Bucketing,
  powerOfTwoBucket,
} from "./bucketing.ts";
export { type BufferMeta, PooledBuffer } from "./handle.ts";
export { allocMetalBuffer, MetalBuffer, metalAvailable } from "./metal.ts";
export { type BatchRequest, BucketPool, type BucketPoolOptions, type PoolStats } from "./pool.ts";
