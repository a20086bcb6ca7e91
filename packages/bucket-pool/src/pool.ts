import { checkSize, LlmemError } from "@llmem/core";
import { powerOfTwoBucket } from "./bucket.ts";

export const MAX_BUFFER_BYTES = 2 ** 32;

export interface PooledBuffer {
  readonly buffer: ArrayBuffer;
  readonly byteLength: number;
  readonly capacity: number;
}

export interface PoolStats {
  freeCount: number;
  inUseCount: number;
  hits: number;
  misses: number;
}

/** Reusable host buffers bucketed by size; `reset()` returns everything handed out since the last reset. */
export class BucketPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly inUse = new Set<PooledBuffer>();
  private hits = 0;
  private misses = 0;

  alloc(byteLength: number): PooledBuffer {
    checkSize("byteLength", byteLength, MAX_BUFFER_BYTES);
    const capacity = powerOfTwoBucket(byteLength);
    const reused = this.free.get(capacity)?.pop();
    if (reused) this.hits++;
    else this.misses++;
    const handle: PooledBuffer = { buffer: reused ?? new ArrayBuffer(capacity), byteLength, capacity };
    this.inUse.add(handle);
    return handle;
  }

  release(handle: PooledBuffer): void {
    if (!this.inUse.delete(handle)) {
      throw new LlmemError("FOREIGN_HANDLE", "buffer is not in use in this pool (released twice or foreign)");
    }
    const list = this.free.get(handle.capacity);
    if (list) list.push(handle.buffer);
    else this.free.set(handle.capacity, [handle.buffer]);
  }

  reset(): void {
    for (const handle of [...this.inUse]) this.release(handle);
  }

  stats(): PoolStats {
    let freeCount = 0;
    for (const list of this.free.values()) freeCount += list.length;
    return { freeCount, inUseCount: this.inUse.size, hits: this.hits, misses: this.misses };
  }
}
