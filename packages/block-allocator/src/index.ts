export {
  type AllocatorMetrics,
  BlockAllocator,
  type BlockContent,
  type BlockContentInput,
  type BlockHash,
} from "./allocator.ts";
export { type BlockCopy, BlockTable, type BlockTableOptions } from "./block-table.ts";
