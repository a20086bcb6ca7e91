/**
 * Free buffers of one bucket, in the order they were returned: `pop` takes the most recently
 * returned (warmest) one, `shift` the least recently returned (the one to evict).
 */
import type { Slot } from "./handle.ts";

export class FreeList {
  private items: (Slot | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(slot: Slot): void {
    this.items.push(slot);
  }

  pop(): Slot | undefined {
    const items = this.items;
    if (items.length === this.head) return undefined;
    const slot = items.pop();
    if (this.head !== 0 && items.length === this.head) this.clear();
    return slot;
  }

  shift(): Slot | undefined {
    const items = this.items;
    if (items.length === this.head) return undefined;
    const slot = items[this.head];
    items[this.head++] = undefined;
    if (this.head === items.length) this.clear();
    else if (this.head >= 64 && this.head * 2 >= items.length) {
      items.splice(0, this.head);
      this.head = 0;
    }
    return slot;
  }

  /** Every slot, oldest first. */
  *[Symbol.iterator](): IterableIterator<Slot> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  clear(): void {
    this.items.length = 0;
    this.head = 0;
  }
}
