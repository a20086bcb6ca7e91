/**
 * Full prompt blocks that live sequences are still computing, counted by chained hash: a
 * request whose next uncached block is one of them can wait and reuse it instead of
 * prefilling it too (what a scheduler asks through PagedKvCache.waitsForPrefix).
 */
import type { HashList } from "@llmem/prefix-hash";

export class PendingPrefixes {
  private readonly holders = new Map<bigint, number>();

  get size(): number {
    return this.holders.size;
  }

  has(hash: bigint): boolean {
    return this.holders.has(hash);
  }

  /** Blocks [from, to) of a sequence's `hashes` are being computed. */
  add(hashes: HashList, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const h = hashes[i]!;
      this.holders.set(h, (this.holders.get(h) ?? 0) + 1);
    }
  }

  /** Blocks [from, to) of `hashes` are computed, or will not be. */
  remove(hashes: HashList, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const h = hashes[i]!;
      const n = this.holders.get(h)! - 1;
      if (n === 0) this.holders.delete(h);
      else this.holders.set(h, n);
    }
  }
}
