export { BlockAllocator } from "./allocator.ts";
