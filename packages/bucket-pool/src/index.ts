export { powerOfTwoBucket } from "./bucket.ts";
export { BucketPool, MAX_BUFFER_BYTES, type PooledBuffer, type PoolStats } from "./pool.ts";
