export { ContiguousKvCache, type ContiguousKvCacheOptions } from "./contiguous.ts";
