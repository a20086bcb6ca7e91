/**
 * A bump allocator over one 64-byte aligned block: `alloc` hands out typed views,
 * `reset` reclaims everything in O(1). Native memory when libllmem is loaded, a plain
 * ArrayBuffer otherwise.
 */
import { checkPowerOfTwo, checkSize, LlmemError, type TypedArrayConstructor } from "@llmem/core";
import { allocNative, freeNative, isNativeAvailable, type NativeBlock } from "@llmem/native";

export const MAX_ARENA_BYTES = 2 ** 32;
const DEFAULT_ALIGN = 64;

export class Arena {
  readonly capacity: number;
  private readonly block: NativeBlock | null;
  private readonly bytes: ArrayBuffer;
  private offset = 0;
  private peak = 0;
  private count = 0;

  constructor(capacityBytes: number) {
    checkSize("capacityBytes", capacityBytes, MAX_ARENA_BYTES);
    this.capacity = capacityBytes;
    // The JS fallback over-allocates by one alignment unit; ArrayBuffers are only 8-byte aligned.
    this.block = isNativeAvailable() && capacityBytes > 0 ? allocNative(capacityBytes, DEFAULT_ALIGN) : null;
    this.bytes = this.block ? this.block.buffer : new ArrayBuffer(capacityBytes);
  }

  get used(): number {
    return this.offset;
  }
  get remaining(): number {
    return this.capacity - this.offset;
  }
  get highWaterMark(): number {
    return this.peak;
  }
  get allocationCount(): number {
    return this.count;
  }
  get isNative(): boolean {
    return this.block !== null;
  }

  /** A zeroed view of `count` elements, aligned to `align` bytes (default 64) from the block start. */
  alloc<C extends TypedArrayConstructor>(ctor: C, count: number, align = DEFAULT_ALIGN): InstanceType<C> {
    const view = this.tryAlloc(ctor, count, align);
    if (view === null) {
      const bytes = count * ctor.BYTES_PER_ELEMENT;
      throw new LlmemError(
        "ARENA_EXHAUSTED",
        `arena of ${this.capacity} bytes cannot fit ${bytes} more bytes (${this.remaining} remaining)`,
        { requested: bytes, remaining: this.remaining, capacity: this.capacity },
      );
    }
    return view;
  }

  /** Like alloc, but returns null when the arena is full. */
  tryAlloc<C extends TypedArrayConstructor>(
    ctor: C,
    count: number,
    align = DEFAULT_ALIGN,
  ): InstanceType<C> | null {
    checkSize("count", count, MAX_ARENA_BYTES);
    checkPowerOfTwo("align", align, 1 << 20);
    const start = (this.offset + align - 1) & ~(align - 1);
    const end = start + count * ctor.BYTES_PER_ELEMENT;
    if (end > this.capacity) return null;
    const view = new ctor(this.bytes, start, count) as InstanceType<C>;
    view.fill(0 as never);
    this.offset = end;
    this.count++;
    if (end > this.peak) this.peak = end;
    return view;
  }

  /** Reclaims every allocation at once; views handed out before stay readable but will be overwritten. */
  reset(): void {
    this.offset = 0;
    this.count = 0;
  }

  /** Frees the native block. */
  dispose(): void {
    if (this.block) freeNative(this.block);
  }
}
