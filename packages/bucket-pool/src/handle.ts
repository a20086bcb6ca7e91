/** A buffer handed out by a BucketPool, valid until it is released or the pool resets. */
import { type DType, LlmemError, type TypedArray, type TypedArrayConstructor } from "@llmem/core";
import type { Memory } from "./backend.ts";

/** One pooled allocation: memory of one bucket, owned by at most one live handle. */
export class Slot {
  owner: PooledBuffer | null = null;
  /** True once the owner's ArrayBuffer was handed to user code: it must be detached on return. */
  exposed = false;
  /** Index in the pool's in-use list while owned, -1 when free. */
  inUseIndex = -1;
  /** Neighbours in the pool's return order while free (only kept when the cache is capped). */
  older: Slot | null = null;
  newer: Slot | null = null;
  constructor(
    readonly pool: object,
    readonly memory: Memory,
    readonly classIndex: number,
    readonly capacity: number,
  ) {}
}

export interface BufferMeta {
  dtype?: DType;
  shape?: readonly number[];
}

function stale(): LlmemError {
  return new LlmemError(
    "STALE_HANDLE",
    "pooled buffer was released (release/reset/clear/dispose); allocate a new one",
  );
}

export class PooledBuffer {
  /** Bytes requested; the buffer itself holds `capacity` bytes. */
  readonly byteLength: number;
  readonly dtype: DType | undefined;
  readonly shape: readonly number[] | undefined;
  /** @internal */
  readonly slot: Slot;

  constructor(
    slot: Slot,
    byteLength: number,
    dtype: DType | undefined,
    shape: readonly number[] | undefined,
  ) {
    this.slot = slot;
    this.byteLength = byteLength;
    this.dtype = dtype;
    this.shape = shape;
  }

  /** Bucket size in bytes (>= byteLength). */
  get capacity(): number {
    return this.slot.capacity;
  }

  /** False once released: every access to the bytes then throws STALE_HANDLE. */
  get alive(): boolean {
    return this.slot.owner === this;
  }

  /** The bucket's bytes (capacity long); detached when this handle dies. */
  get buffer(): ArrayBuffer {
    const slot = this.slot;
    if (slot.owner !== this) throw stale();
    slot.exposed = true;
    return slot.memory.buffer;
  }

  /** The first byteLength bytes. */
  bytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.buffer, 0, this.byteLength);
  }

  /** A typed view of the requested bytes (whole elements only), or of `length` elements at `byteOffset`. */
  view<C extends TypedArrayConstructor>(ctor: C, byteOffset = 0, length?: number): InstanceType<C> {
    const buffer = this.buffer;
    const size = ctor.BYTES_PER_ELEMENT;
    if (typeof size !== "number") {
      throw new LlmemError("INVALID_ARGUMENT", "ctor must be a typed-array constructor", {
        argument: "ctor",
      });
    }
    const count = length ?? Math.floor((this.byteLength - byteOffset) / size);
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % size !== 0) {
      throw new LlmemError("INVALID_ARGUMENT", `byteOffset must be a non-negative multiple of ${size}`, {
        argument: "byteOffset",
        value: byteOffset,
      });
    }
    if (!Number.isInteger(count) || count < 0 || byteOffset + count * size > this.capacity) {
      throw new LlmemError(
        "OUT_OF_BOUNDS",
        `view of ${count} × ${size} bytes at ${byteOffset} exceeds the capacity ${this.capacity}`,
        { argument: "length", value: length, capacity: this.capacity },
      );
    }
    return new ctor(buffer, byteOffset, count) as InstanceType<C>;
  }
}

export type { TypedArray };
