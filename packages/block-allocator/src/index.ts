export {
  type AllocatorMetrics,
  BlockAllocator,
  type BlockContent,
  type BlockContentInput,
  type BlockHash,
} from "./allocator.ts";
export { type BlockCopy, BlockTable, type BlockTableOptions } from "./block-table.ts";
export {
  acquireCachedPrefix,
  type CachedPrefix,
  commitFullBlocks,
  findCachedPrefix,
  type PrefixKeys,
} from "./prefix-cache.ts";
