/** Free buffers across all buckets in return order, so the cache cap evicts the oldest first. */
import type { Slot } from "./handle.ts";

export class ReturnOrder {
  private first: Slot | null = null;
  private last: Slot | null = null;

  /** The least recently returned free buffer. */
  get oldest(): Slot | null {
    return this.first;
  }

  append(slot: Slot): void {
    slot.older = this.last;
    slot.newer = null;
    if (this.last) this.last.newer = slot;
    else this.first = slot;
    this.last = slot;
  }

  unlink(slot: Slot): void {
    if (slot.older) slot.older.newer = slot.newer;
    else this.first = slot.newer;
    if (slot.newer) slot.newer.older = slot.older;
    else this.last = slot.older;
    slot.older = slot.newer = null;
  }

  clear(): void {
    this.first = this.last = null;
  }
}
