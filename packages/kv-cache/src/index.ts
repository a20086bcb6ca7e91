export { ContiguousKvCache, type ContiguousKvCacheOptions } from "./contiguous.ts";
export {
  PagedKvCache,
  type PagedKvCacheOptions,
  PagedSequence,
  type PagedStats,
  type PagedTiers,
} from "./paged.ts";
export { type PagedAttentionArgs, pagedAttention } from "./paged-kernel.ts";
export { type MetalAttentionOptions, metalAttentionAvailable, pagedAttentionMetal } from "./paged-metal.ts";
export {
  type RowFormat,
  STORE_PRECISIONS,
  type StorePrecision,
  TAIL_PRECISIONS,
  type TailPrecision,
} from "./row-formats.ts";
export {
  type KeyGrouping,
  type KvPair,
  TwoTierKvCache,
  type TwoTierKvCacheOptions,
  type TwoTierPolicy,
  type TwoTierStats,
} from "./two-tier.ts";
export type { AttendOptions } from "./validate.ts";
