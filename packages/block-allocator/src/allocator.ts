import { checkInt, LlmemError, PoolExhaustedError } from "@llmem/core";

/** Physical KV blocks with reference counts; a fresh pool hands out 0, 1, 2, … */
export class BlockAllocator {
  readonly capacity: number;
  private readonly refs: Uint16Array;
  private readonly freeStack: Uint32Array;
  private freeTop: number;

  constructor(numBlocks: number) {
    this.capacity = checkInt("numBlocks", numBlocks, 1, 2 ** 31);
    this.refs = new Uint16Array(numBlocks);
    this.freeStack = new Uint32Array(numBlocks);
    // Stack top is the lowest id, so a fresh pool allocates in ascending order.
    for (let i = 0; i < numBlocks; i++) this.freeStack[i] = numBlocks - 1 - i;
    this.freeTop = numBlocks;
  }

  get freeCount(): number {
    return this.freeTop;
  }

  allocate(): number {
    if (this.freeTop === 0) throw new PoolExhaustedError("no free KV blocks: requested 1, 0 free", 1, 0);
    const block = this.freeStack[--this.freeTop]!;
    this.refs[block] = 1;
    return block;
  }

  refCount(block: number): number {
    return this.refs[checkInt("block", block, 0, this.capacity - 1)]!;
  }

  free(blocks: readonly number[]): void {
    for (const b of blocks) {
      if (this.refCount(b) === 0)
        throw new LlmemError("DOUBLE_FREE", `block ${b} is already free`, { block: b });
    }
    for (const b of blocks) {
      if (--this.refs[b]! === 0) this.freeStack[this.freeTop++] = b;
    }
  }
}
