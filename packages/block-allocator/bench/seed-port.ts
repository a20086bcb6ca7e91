/**
 * Baseline only: a straight port of the seed's (ferrum paged_kv.rs) allocator, whose free list
 * is a Vec scanned linearly to prefer unhashed blocks and to resurrect a soft-free block.
 * Kept here to measure the O(1) allocator against; never use it.
 */
export class SeedBlockAllocator {
  private readonly freeList: number[] = [];
  private readonly refCounts: Uint16Array;
  private readonly hashTable = new Map<bigint, number>();
  private readonly blockToHash: (bigint | undefined)[];

  constructor(numBlocks: number) {
    for (let i = numBlocks - 1; i >= 0; i--) this.freeList.push(i);
    this.refCounts = new Uint16Array(numBlocks);
    this.blockToHash = new Array(numBlocks);
  }

  allocate(): number {
    const list = this.freeList;
    if (list.length === 0) throw new Error("exhausted");
    let pos = list.length - 1;
    for (let i = list.length - 1; i >= 0; i--) {
      if (this.blockToHash[list[i]!] === undefined) {
        pos = i;
        break;
      }
    }
    const b = list[pos]!;
    list[pos] = list[list.length - 1]!;
    list.pop();
    const h = this.blockToHash[b];
    if (h !== undefined) {
      this.blockToHash[b] = undefined;
      if (this.hashTable.get(h) === b) this.hashTable.delete(h);
    }
    this.refCounts[b] = 1;
    return b;
  }

  tryAcquireByHash(hash: bigint): number | null {
    const b = this.hashTable.get(hash);
    if (b === undefined) return null;
    if (this.refCounts[b] === 0) {
      const list = this.freeList;
      let pos = -1;
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i] === b) {
          pos = i;
          break;
        }
      }
      if (pos < 0) return null;
      list[pos] = list[list.length - 1]!;
      list.pop();
      this.refCounts[b] = 1;
    } else {
      this.refCounts[b]!++;
    }
    return b;
  }

  registerBlockHash(block: number, hash: bigint): void {
    const old = this.blockToHash[block];
    if (old !== undefined && old !== hash && this.hashTable.get(old) === block) this.hashTable.delete(old);
    this.blockToHash[block] = hash;
    this.hashTable.set(hash, block);
  }

  free(blocks: readonly number[]): void {
    for (const b of blocks) {
      if (--this.refCounts[b]! === 0) this.freeList.push(b);
    }
  }
}
