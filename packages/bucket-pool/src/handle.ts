/** A buffer handed out by a BucketPool, valid until it is released or the pool resets. */
import { describeValue, LlmemError, type TypedArray, type TypedArrayConstructor } from "@llmem/core";
import type { Format } from "@llmem/native";
import type { Memory } from "./backend.ts";

/** Element bytes of the typed-array constructors a view may be made with. */
const VIEW_CTORS: ReadonlyMap<unknown, number> = new Map<unknown, number>(
  [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float16Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((c) => [c, c.BYTES_PER_ELEMENT]),
);

/** One pooled allocation: memory of one bucket, owned by at most one live handle. */
export class Slot {
  owner: PooledBuffer | null = null;
  /** True once the owner's ArrayBuffer was handed to user code: it must be detached on return. */
  exposed = false;
  /** Index in the pool's in-use list; meaningful only while owned. */
  inUseIndex = -1;
  /** The last typed view made of this memory (reused by PooledBuffer.view while still attached). */
  lastView: TypedArray | undefined = undefined;
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
  /** The storage format of the bytes (a row of @llmem/core's format table). */
  format?: Format;
  /** @deprecated the old name of `format`; accepted when it names the same format. */
  dtype?: Format;
  shape?: readonly number[];
}

function stale(): LlmemError {
  return new LlmemError(
    "STALE_HANDLE",
    "pooled buffer was released (release/reset/clear/dispose); allocate a new one",
  );
}

export class PooledBuffer {
  constructor(
    /** @internal */
    readonly slot: Slot,
    /** Bytes requested; the buffer itself holds `capacity` bytes. */
    readonly byteLength: number,
    readonly format: Format | undefined,
    readonly shape: readonly number[] | undefined,
  ) {}

  /** @deprecated the old name of `format`. */
  get dtype(): Format | undefined {
    return this.format;
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

  /** Zeroes the whole capacity (reused buffers hold their last owner's bytes). */
  zero(): void {
    new Uint8Array(this.buffer).fill(0);
  }

  /** The first byteLength bytes. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.view(Uint8Array, 0, this.byteLength);
  }

  /** A typed view of the requested bytes (whole elements only), or of `length` elements at `byteOffset`. */
  view<C extends TypedArrayConstructor>(ctor: C, byteOffset = 0, length?: number): InstanceType<C> {
    const buffer = this.buffer;
    // One of the engine's typed-array constructors, nothing that merely has BYTES_PER_ELEMENT
    // (null threw a TypeError here, a look-alike function at `new`, a subclass could lie).
    const size = VIEW_CTORS.get(ctor);
    if (size === undefined) {
      throw new LlmemError("INVALID_ARGUMENT", "ctor must be a typed-array constructor (Float32Array, …)", {
        argument: "ctor",
      });
    }
    // typeof first: arithmetic on a bigint or a symbol throws a TypeError, on an object runs its valueOf.
    if (
      typeof byteOffset !== "number" ||
      !Number.isInteger(byteOffset) ||
      byteOffset < 0 ||
      byteOffset % size !== 0
    ) {
      throw new LlmemError("INVALID_ARGUMENT", `byteOffset must be a non-negative multiple of ${size}`, {
        argument: "byteOffset",
        value: byteOffset,
      });
    }
    const count = length ?? Math.floor((this.byteLength - byteOffset) / size);
    if (
      typeof count !== "number" ||
      !Number.isInteger(count) ||
      count < 0 ||
      byteOffset + count * size > this.capacity
    ) {
      throw new LlmemError(
        "OUT_OF_BOUNDS",
        `view of ${describeValue(count)} × ${size} bytes at ${byteOffset} exceeds the capacity ${this.capacity}`,
        { argument: "length", value: length, capacity: this.capacity },
      );
    }
    // The last view made of this memory is reused while its buffer is still the live one
    // (always true with detachViews: false), so a step that re-views its buffers allocates nothing.
    const cached = this.slot.lastView;
    if (
      cached !== undefined &&
      cached.buffer === buffer &&
      cached.constructor === ctor &&
      cached.byteOffset === byteOffset &&
      cached.length === count
    ) {
      return cached as InstanceType<C>;
    }
    const view = new ctor(buffer, byteOffset, count) as InstanceType<C>;
    this.slot.lastView = view;
    return view;
  }
}
