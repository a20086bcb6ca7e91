/**
 * A bump allocator over one 64-byte aligned block: `alloc` hands out typed views, `reset`
 * reclaims everything in O(1). Native memory when libllmem is loaded, a plain ArrayBuffer
 * otherwise. In checked mode every view handed out is detached by the reset or rollback
 * that reclaims it, so use after reset fails loudly instead of reading the next step's data.
 */
import { type Pointer, toArrayBuffer } from "bun:ffi";
import { checkInt, checkPowerOfTwo, checkSize, LlmemError, type TypedArrayConstructor } from "@llmem/core";
import { allocNative, freeNative, isNativeAvailable, type NativeBlock } from "@llmem/native";
import { ELEMENT_BYTES } from "./typed.ts";

export const MAX_ARENA_BYTES = 2 ** 32;
export const DEFAULT_ALIGN = 64;
/** Largest alignment accepted (a power of two). */
export const MAX_ALIGN = 1 << 20;
/** Fresh memory is zeroed ahead in chunks of this size, so small allocs skip a call to fill. */
const ZERO_CHUNK = 32 * 1024;
/** Views remembered for reuse by allocation index (default mode). */
const MAX_CACHED_VIEWS = 1 << 17;

export interface ArenaOptions {
  /** Detach handed-out views on reset/rollback (default: env LLMEM_CHECKED=1). */
  checked?: boolean;
  /** Default alignment of allocations in bytes, a power of two (default 64). */
  align?: number;
}

export interface ArenaStats {
  capacity: number;
  used: number;
  remaining: number;
  highWaterMark: number;
  allocationCount: number;
  /** used / capacity (0 for an empty arena). */
  utilization: number;
  /** highWaterMark / capacity: how much of the arena a step ever needed. */
  peakUtilization: number;
  checked: boolean;
  native: boolean;
}

export interface ModelDims {
  /** The widest activation (a decoder's FFN width, or its model width if larger). */
  hiddenDim: number;
  vocabSize: number;
  batchSize: number;
  /**
   * Positions one attention row spans (a decoder's context length). Given, the arena also holds
   * each sequence's attention scores and 64 bytes of alignment for each of 16 step buffers, so
   * one decode step's activations always fit.
   */
  contextLength?: number;
}

/**
 * The dims, each read once and validated: callers size from this copy, never from `dims` again
 * (a getter returning 64 when checked and 2^40 when read later must not size anything).
 */
export function readModelDims(dims: ModelDims): ModelDims {
  if (typeof dims !== "object" || dims === null) {
    throw new LlmemError("INVALID_ARGUMENT", "dims must be { hiddenDim, vocabSize, batchSize }", {
      argument: "dims",
    });
  }
  const { hiddenDim, vocabSize, batchSize, contextLength } = dims;
  return {
    hiddenDim: checkInt("hiddenDim", hiddenDim, 1, 2 ** 20),
    vocabSize: checkInt("vocabSize", vocabSize, 1, 2 ** 24),
    batchSize: checkInt("batchSize", batchSize, 1, 2 ** 16),
    contextLength:
      contextLength === undefined ? undefined : checkInt("contextLength", contextLength, 1, 2 ** 24),
  };
}

/** Step buffers forModel leaves alignment room for when contextLength is given. */
const STEP_BUFFERS = 16;

interface MarkState {
  readonly arena: Arena;
  readonly id: number;
  readonly offset: number;
  readonly allocationCount: number;
}

/**
 * The state of every mark the arena itself made, keyed by the mark: rollback reads only this,
 * never the mark's properties, so neither an edited mark (an own `offset` of -64 shadowing the
 * getter) nor `new ArenaMark(arena, id, -16, 0)` can set the arena's offset to a value it never
 * had (a negative offset would hand JS the allocator's header before the block).
 */
const markStates = new WeakMap<ArenaMark, MarkState>();

/** A point to roll back to; valid until a reset or a rollback to an earlier mark. */
export class ArenaMark {
  readonly #state: MarkState;
  /** @internal use arena.mark(); a mark constructed directly is refused by rollback */
  constructor(arena: Arena, id: number, offset: number, allocationCount: number) {
    this.#state = Object.freeze({ arena, id, offset, allocationCount });
  }
  get arena(): Arena {
    return this.#state.arena;
  }
  get id(): number {
    return this.#state.id;
  }
  get offset(): number {
    return this.#state.offset;
  }
  get allocationCount(): number {
    return this.#state.allocationCount;
  }
  /** @internal */
  static mint(state: MarkState): ArenaMark {
    const mark = new ArenaMark(state.arena, state.id, state.offset, state.allocationCount);
    markStates.set(mark, Object.freeze({ ...state }));
    return mark;
  }
}

type View = InstanceType<TypedArrayConstructor>;

export class Arena {
  readonly capacity: number;
  readonly checked: boolean;
  readonly align: number;
  private readonly block: NativeBlock | null;
  private readonly bytes: ArrayBuffer;
  private readonly u8: Uint8Array;
  /** Absolute address of the block (0 for the JS fallback), so alignment is of real addresses. */
  private readonly base: number;
  /** align - 1 when `(offset + mask) & ~mask` is exact (block aligned to it, offsets < 2^30), else -1. */
  private readonly alignMask: number;
  private offset = 0;
  private peak = 0;
  private count = 0;
  /** Every byte in [offset, zeroedUpTo) is known to be zero. */
  private zeroedUpTo = 0;
  private readonly views: (View | undefined)[] = [];
  /** Checked mode: the buffer of each live allocation, in allocation order. */
  private readonly handedOut: ArrayBuffer[] = [];
  private readonly marks: number[] = [];
  private nextMarkId = 1;
  private disposed = false;

  constructor(capacityBytes: number, options: ArenaOptions = {}) {
    checkSize("capacityBytes", capacityBytes, MAX_ARENA_BYTES);
    if (typeof options !== "object" || options === null) {
      throw new LlmemError("INVALID_ARGUMENT", "options must be an object", { argument: "options" });
    }
    this.align =
      options.align === undefined ? DEFAULT_ALIGN : checkPowerOfTwo("align", options.align, MAX_ALIGN);
    this.checked = options.checked ?? process.env.LLMEM_CHECKED === "1";
    if (typeof this.checked !== "boolean") {
      throw new LlmemError("INVALID_ARGUMENT", "checked must be a boolean", { argument: "checked" });
    }
    this.capacity = capacityBytes;
    this.block = isNativeAvailable() && capacityBytes > 0 ? allocNative(capacityBytes, DEFAULT_ALIGN) : null;
    this.bytes = this.block ? this.block.buffer : new ArrayBuffer(capacityBytes);
    this.base = this.block ? this.block.address : 0;
    this.u8 = new Uint8Array(this.bytes);
    this.alignMask = capacityBytes < 2 ** 30 && this.base % this.align === 0 ? this.align - 1 : -1;
    this.zeroedUpTo = capacityBytes; // fresh memory is zeroed
  }

  /** Sized as ruvllm's InferenceArena::for_model: (activations + logits + 4×hidden scratch) × 2, in f32. */
  static forModel(dims: ModelDims, options?: ArenaOptions): Arena {
    return new Arena(Arena.bytesForModel(dims), options);
  }

  static bytesForModel(dims: ModelDims): number {
    const { hiddenDim: hidden, vocabSize: vocab, batchSize: batch, contextLength } = readModelDims(dims);
    const context = contextLength ?? 0;
    const scores = context === 0 ? 0 : context * batch * 4 * 2 + STEP_BUFFERS * 64;
    const total = (hidden * batch * 4 + vocab * batch * 4 + hidden * 4 * 4) * 2 + scores;
    if (total > MAX_ARENA_BYTES) {
      throw new LlmemError(
        "OUT_OF_RANGE",
        `model needs ${total} bytes of arena, above the ${MAX_ARENA_BYTES} limit`,
        {
          argument: "dims",
          value: total,
          max: MAX_ARENA_BYTES,
        },
      );
    }
    return total;
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
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * A zeroed view of `count` elements, aligned to `align` bytes (default: the arena's, 64;
   * never less than the element size).
   */
  alloc<C extends TypedArrayConstructor>(
    ctor: C,
    count: number,
    align: number = this.align,
  ): InstanceType<C> {
    const view = this.bump(ctor, count, align, true);
    if (view === null) throw this.exhausted(ctor, count);
    return view as InstanceType<C>;
  }

  /** Like alloc but the bytes are whatever the last step left there (faster for buffers you overwrite). */
  allocUninit<C extends TypedArrayConstructor>(
    ctor: C,
    count: number,
    align: number = this.align,
  ): InstanceType<C> {
    const view = this.bump(ctor, count, align, false);
    if (view === null) throw this.exhausted(ctor, count);
    return view as InstanceType<C>;
  }

  /** Like alloc, but returns null when the arena is full (bad arguments still throw). */
  tryAlloc<C extends TypedArrayConstructor>(
    ctor: C,
    count: number,
    align: number = this.align,
  ): InstanceType<C> | null {
    return this.bump(ctor, count, align, true) as InstanceType<C> | null;
  }

  /** Reclaims every allocation at once, in O(1) (checked mode: O(live allocations), detaching them). */
  reset(): void {
    if (this.disposed) throw disposedError();
    this.offset = 0;
    this.count = 0;
    this.zeroedUpTo = 0;
    this.marks.length = 0;
    if (this.checked) this.detachFrom(0);
  }

  /** Remembers the current position for a nested scope. */
  mark(): ArenaMark {
    if (this.disposed) throw disposedError();
    const id = this.nextMarkId++;
    this.marks.push(id);
    return ArenaMark.mint({ arena: this, id, offset: this.offset, allocationCount: this.count });
  }

  /** Frees every allocation made since `mark` (which stays valid; later marks die). */
  rollback(handle: ArenaMark): void {
    if (this.disposed) throw disposedError();
    const mark = markStates.get(handle);
    if (mark === undefined) {
      throw new LlmemError("INVALID_ARGUMENT", "mark must come from arena.mark()", { argument: "mark" });
    }
    if (mark.arena !== this) {
      throw new LlmemError("FOREIGN_HANDLE", "mark belongs to another arena", { argument: "mark" });
    }
    const at = this.marks.lastIndexOf(mark.id);
    if (at < 0) {
      throw new LlmemError(
        "STALE_HANDLE",
        "mark was invalidated by a reset or a rollback to an earlier mark",
        {
          argument: "mark",
        },
      );
    }
    this.marks.length = at + 1;
    // Bytes between the mark and the old offset were handed out, so they are no longer known zero.
    this.zeroedUpTo = mark.offset;
    this.offset = mark.offset;
    this.count = mark.allocationCount;
    if (this.checked) this.detachFrom(mark.allocationCount);
  }

  stats(): ArenaStats {
    const cap = this.capacity;
    return {
      capacity: cap,
      used: this.offset,
      remaining: cap - this.offset,
      highWaterMark: this.peak,
      allocationCount: this.count,
      utilization: cap === 0 ? 0 : this.offset / cap,
      peakUtilization: cap === 0 ? 0 : this.peak / cap,
      checked: this.checked,
      native: this.block !== null,
    };
  }

  /** Frees the native block; every view of the arena is detached. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    if (this.checked) this.detachFrom(0);
    if (this.block) freeNative(this.block);
    else this.bytes.transfer();
    this.views.length = 0;
    this.offset = this.count = 0;
    this.disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private bump(ctor: TypedArrayConstructor, count: number, align: number, zero: boolean): View | null {
    const offset = this.offset;
    let start: number;
    // An alignment of at least 8 covers every element size; smaller ones are raised to it.
    if (align === this.align && this.alignMask >= 7) start = (offset + this.alignMask) & ~this.alignMask;
    else {
      if (align !== this.align) checkPowerOfTwo("align", align, MAX_ALIGN);
      const a = Math.max(align, ELEMENT_BYTES.get(ctor) ?? 1);
      // Division by a power of two is exact in floating point, so this is exact for any address.
      start = Math.ceil((this.base + offset) / a) * a - this.base;
    }
    const index = this.count;
    const cached = this.views[index];
    let view: View;
    let end: number;
    if (
      cached !== undefined &&
      cached.constructor === ctor &&
      cached.length === count &&
      cached.byteOffset === start
    ) {
      // The same allocation as in an earlier step (the decode-loop pattern): reuse its view.
      view = cached;
      end = start + cached.byteLength;
    } else {
      const size = ELEMENT_BYTES.get(ctor);
      if (size === undefined) throw unknownCtor(ctor);
      if (!(typeof count === "number" && count >= 0 && count <= MAX_ARENA_BYTES && Number.isInteger(count))) {
        checkSize("count", count, MAX_ARENA_BYTES);
      }
      if (this.disposed) throw disposedError();
      end = start + count * size;
      if (end > this.capacity) return null;
      if (this.checked) view = this.checkedView(ctor, start, count, size, zero);
      else {
        view = new ctor(this.bytes, start, count);
        if (index < MAX_CACHED_VIEWS) this.views[index] = view;
      }
    }
    if (end > this.zeroedUpTo) {
      if (zero && !this.checked) {
        const to = Math.min(this.capacity, Math.max(end, start + ZERO_CHUNK));
        this.u8.fill(0, Math.max(start, this.zeroedUpTo), to);
        this.zeroedUpTo = to;
      } else this.zeroedUpTo = end;
    }
    this.offset = end;
    this.count = index + 1;
    if (end > this.peak) this.peak = end;
    return view;
  }

  /** Checked mode: each allocation gets its own ArrayBuffer, so detaching it kills only its views. */
  private checkedView(
    ctor: TypedArrayConstructor,
    start: number,
    count: number,
    size: number,
    zero: boolean,
  ): View {
    const bytes = count * size;
    let buffer: ArrayBuffer;
    if (bytes === 0) buffer = new ArrayBuffer(0);
    else if (this.block) {
      buffer = toArrayBuffer((this.base + start) as unknown as Pointer, 0, bytes);
      if (zero) new Uint8Array(buffer).fill(0);
    } else buffer = new ArrayBuffer(bytes);
    this.handedOut.push(buffer);
    return new ctor(buffer, 0, count);
  }

  private detachFrom(index: number): void {
    const list = this.handedOut;
    for (let i = index; i < list.length; i++) list[i]!.transfer();
    list.length = Math.min(list.length, index);
  }

  private exhausted(ctor: TypedArrayConstructor, count: number): LlmemError {
    const bytes = count * ctor.BYTES_PER_ELEMENT;
    return new LlmemError(
      "ARENA_EXHAUSTED",
      `arena of ${this.capacity} bytes cannot fit ${bytes} more bytes (${this.remaining} remaining, before alignment)`,
      { requested: bytes, remaining: this.remaining, capacity: this.capacity },
    );
  }
}

function disposedError(): LlmemError {
  return new LlmemError("DISPOSED", "arena was disposed");
}

function unknownCtor(ctor: unknown): LlmemError {
  // Never String(ctor): a symbol, or an object inheriting from a constructor, throws a TypeError there.
  const name =
    typeof ctor === "function"
      ? (Object.getOwnPropertyDescriptor(ctor, "name")?.value ?? "anonymous function")
      : ctor === null
        ? "null"
        : typeof ctor;
  return new LlmemError(
    "INVALID_ARGUMENT",
    `ctor must be a typed-array constructor (Float32Array, ...), got ${name}`,
    {
      argument: "ctor",
    },
  );
}
