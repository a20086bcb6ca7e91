export {
  type AdmitOptions,
  type KeyGrouping,
  PagedKvCache,
  type PagedKvCacheOptions,
  PagedSequence,
  type PagedStats,
  type PagedTiers,
} from "./paged.ts";
export { type PagedAttentionArgs, pagedAttention } from "./paged-kernel.ts";
export { type MetalAttentionOptions, metalAttentionAvailable, pagedAttentionMetal } from "./paged-metal.ts";
export type { RowFormat } from "./row-formats.ts";
