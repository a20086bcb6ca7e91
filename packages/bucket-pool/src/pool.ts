/**
 * BucketPool: reusable buffers bucketed by size, returned one by one (`release`) or all at
 * once per decode step (`reset`). A returned buffer's handle dies: its ArrayBuffer is
 * detached, so a stale view reads length 0 instead of the next owner's bytes.
 */
import { checkInt, checkSize, describeValue, LlmemError } from "@llmem/core";
import { ALL_FORMATS, bytesFor, FORMATS, type Format, formatInfo } from "@llmem/native";
import { type Backend, type BackendKind, hostBackend, metalBackend } from "./backend.ts";
import {
  type Bucketing,
  type BucketMode,
  fineBucketing,
  fixedBucketing,
  MAX_BUFFER_BYTES,
  pow2Bucketing,
} from "./bucketing.ts";
import { FreeList } from "./free-list.ts";
import { type BufferMeta, PooledBuffer, Slot } from "./handle.ts";
import { ReturnOrder } from "./lru.ts";
import { MetalBuffer, Residency } from "./metal.ts";

export interface BucketPoolOptions {
  /** "pow2" (default, as the MLX seed), "fine" (several classes per power of two) or "fixed". */
  bucketing?: BucketMode;
  /** Fine mode: classes per power of two, a power of two up to 64 (default 4). */
  classesPerPowerOfTwo?: number;
  /** Fixed mode: ascending class sizes (default 1, 4, 16, 64, 256 KiB as ruvllm). */
  sizeClasses?: readonly number[];
  /** Free buffers kept per class; extra returns are freed and counted as drops (default: no limit; 32 in fixed mode). */
  maxFreePerClass?: number;
  /** Cap on free-list bytes; beyond it the least recently returned free buffers are freed (default: no cap). */
  maxCachedBytes?: number;
  /** Largest request accepted in pow2/fine mode (default and maximum 2^32). */
  maxBufferBytes?: number;
  /** "host" (default: libllmem 64-byte aligned memory, or ArrayBuffers when native is off) or "metal" (macOS). */
  backend?: "host" | "metal";
  /**
   * Detach a returned buffer's views (default true), so a stale view reads length 0 and can
   * never see the next owner's bytes. Each detach costs ~0.1–0.4 µs (ArrayBuffer.transfer);
   * `false` skips it for buffers whose views provably die with the step. Dead handles throw either way.
   */
  detachViews?: boolean;
}

export type BatchRequest = number | ({ byteLength: number } & BufferMeta);

export interface PoolStats {
  backend: BackendKind;
  freeCount: number;
  freeBytes: number;
  inUseCount: number;
  /** Capacity bytes of buffers in use. */
  inUseBytes: number;
  /** Bytes requested by the buffers in use (inUseBytes minus bucket rounding). */
  requestedBytes: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before the first alloc. */
  hitRate: number;
  /** Fresh buffers allocated from the backend (misses and prewarm). */
  allocations: number;
  /** Buffers returned to a free list (by release or reset). */
  returns: number;
  /** Returns freed because their class already held maxFreePerClass buffers. */
  drops: number;
  /** Free buffers freed to stay under maxCachedBytes. */
  evictions: number;
  /** Most bytes the pool held at once (free + in use). */
  peakBytes: number;
  /** Buffers registered with registerExisting. */
  registeredCount: number;
  /** Whether a Metal residency set is in use. */
  residency: boolean;
  /** Free buffers per bucket (non-empty buckets only). */
  freeBuffers: { capacity: number; count: number }[];
}

const MAX_PREWARM = 1 << 20;

export class BucketPool {
  readonly bucketing: Bucketing;
  readonly maxFreePerClass: number;
  readonly maxCachedBytes: number;
  private readonly backendImpl: Backend;
  private readonly residencySet: Residency | null;
  private readonly free: FreeList[];
  private readonly order = new ReturnOrder();
  private readonly trackOrder: boolean;
  private readonly pow2: boolean;
  private readonly maxBytes: number;
  private readonly capsPerClass: boolean;
  /** False only with `detachViews: false`: stale views then alias the next owner (the seed's behaviour). */
  readonly detachViews: boolean;
  private readonly inUse: Slot[] = [];
  private readonly registered = new Set<ArrayBuffer | MetalBuffer>();
  private disposed = false;
  private hits = 0;
  private misses = 0;
  private allocations = 0;
  private drops = 0;
  private returns = 0;
  private evictions = 0;
  /** Capacity bytes handed out; free bytes are totalBytes - inUseBytes, free buffers totalCount - in use. */
  private inUseBytes = 0;
  private totalCount = 0;
  private totalBytes = 0;
  private peakBytes = 0;

  constructor(options: BucketPoolOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new LlmemError("INVALID_ARGUMENT", "options must be an object", { argument: "options" });
    }
    const mode = options.bucketing ?? "pow2";
    const maxBytes =
      options.maxBufferBytes === undefined
        ? MAX_BUFFER_BYTES
        : checkInt("maxBufferBytes", options.maxBufferBytes, 1, MAX_BUFFER_BYTES);
    if (mode === "pow2") this.bucketing = pow2Bucketing(maxBytes);
    else if (mode === "fine") this.bucketing = fineBucketing(options.classesPerPowerOfTwo ?? 4, maxBytes);
    else if (mode === "fixed") this.bucketing = fixedBucketing(options.sizeClasses);
    else {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `bucketing must be "pow2", "fine" or "fixed", got ${describeValue(mode)}`,
        {
          argument: "bucketing",
          value: mode,
        },
      );
    }
    if (options.classesPerPowerOfTwo !== undefined && mode !== "fine") {
      throw new LlmemError("INVALID_ARGUMENT", 'classesPerPowerOfTwo applies only to bucketing: "fine"', {
        argument: "classesPerPowerOfTwo",
      });
    }
    if (options.sizeClasses !== undefined && mode !== "fixed") {
      throw new LlmemError("INVALID_ARGUMENT", 'sizeClasses applies only to bucketing: "fixed"', {
        argument: "sizeClasses",
      });
    }
    const defaultMaxFree = mode === "fixed" ? 32 : Number.POSITIVE_INFINITY;
    this.maxFreePerClass = limitOption("maxFreePerClass", options.maxFreePerClass, defaultMaxFree);
    this.maxCachedBytes = limitOption("maxCachedBytes", options.maxCachedBytes, Number.POSITIVE_INFINITY);
    this.trackOrder = this.maxCachedBytes !== Number.POSITIVE_INFINITY;
    this.pow2 = this.bucketing.mode === "pow2";
    this.maxBytes = this.bucketing.maxBytes;
    this.capsPerClass = this.maxFreePerClass !== Number.POSITIVE_INFINITY;
    this.detachViews = options.detachViews ?? true;
    if (typeof this.detachViews !== "boolean") {
      throw new LlmemError("INVALID_ARGUMENT", "detachViews must be a boolean", { argument: "detachViews" });
    }
    const backend = options.backend ?? "host";
    if (backend === "host") {
      this.backendImpl = hostBackend();
      this.residencySet = null;
    } else if (backend === "metal") {
      this.backendImpl = metalBackend();
      this.residencySet = Residency.create();
    } else {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `backend must be "host" or "metal", got ${describeValue(backend)}`,
        {
          argument: "backend",
          value: backend,
        },
      );
    }
    this.free = Array.from({ length: this.bucketing.classCount }, () => new FreeList());
  }

  /** "native", "js" (native off) or "metal". */
  get backend(): BackendKind {
    return this.backendImpl.kind;
  }

  /** Capacity a request of `byteLength` bytes gets (throws if no bucket holds it). */
  bucketFor(byteLength: number): number {
    return this.bucketing.capacityOf(this.classFor(byteLength));
  }

  /**
   * A buffer of at least `byteLength` bytes: a free one of the same bucket if there is one
   * (a hit; its bytes are whatever the last owner left), else a fresh zeroed one (a miss).
   */
  alloc(byteLength: number, meta?: BufferMeta): PooledBuffer {
    // The per-step hot path, kept small so the JIT inlines it: a valid size without metadata
    // whose bucket has a free buffer. Everything else (errors, misses, metadata) is allocSlow.
    if (
      meta === undefined &&
      // typeof first: `>=` on a symbol throws a TypeError and on an object runs its valueOf.
      typeof byteLength === "number" &&
      byteLength >= 0 &&
      byteLength <= this.maxBytes &&
      Number.isInteger(byteLength)
    ) {
      const ci = this.pow2
        ? byteLength <= 1
          ? 0
          : 32 - Math.clz32(byteLength - 1)
        : this.bucketing.classOf(byteLength);
      const slot = ci < 0 ? undefined : this.free[ci]!.pop();
      if (slot !== undefined) {
        this.hits++;
        if (this.trackOrder) this.order.unlink(slot);
        return this.handOut(slot, byteLength, undefined, undefined);
      }
    }
    return this.allocSlow(byteLength, meta);
  }

  private allocSlow(byteLength: number, meta: BufferMeta | undefined): PooledBuffer {
    if (this.disposed) throw disposedError();
    const ci = this.classFor(byteLength);
    let format: Format | undefined;
    let shape: readonly number[] | undefined;
    if (meta !== undefined) [format, shape] = checkMeta(meta, byteLength);
    const slot = this.take(ci);
    this.residencySet?.commit();
    return this.handOut(slot, byteLength, format, shape);
  }

  /** Allocates several buffers, validating all requests first and committing residency once. */
  allocBatch(requests: readonly BatchRequest[]): PooledBuffer[] {
    if (this.disposed) throw disposedError();
    if (!Array.isArray(requests)) {
      throw new LlmemError("INVALID_ARGUMENT", "requests must be an array", { argument: "requests" });
    }
    // Not `map`: it skips the holes of a sparse array, which then threw a TypeError below.
    const plan = Array.from({ length: requests.length }, (_, i) => {
      if (!(i in requests)) {
        throw new LlmemError("INVALID_ARGUMENT", `requests[${i}] is a hole in a sparse array`, {
          argument: "requests",
        });
      }
      const r = requests[i];
      const byteLength = typeof r === "number" ? r : (r as { byteLength?: unknown } | null)?.byteLength;
      const ci = this.classFor(byteLength as number, `requests[${i}].byteLength`);
      const meta = typeof r === "number" ? undefined : checkMeta(r, byteLength as number);
      return { ci, byteLength: byteLength as number, meta };
    });
    const out: PooledBuffer[] = [];
    try {
      for (const p of plan) out.push(this.handOut(this.take(p.ci), p.byteLength, p.meta?.[0], p.meta?.[1]));
    } catch (e) {
      for (const h of out) this.release(h);
      throw e;
    } finally {
      this.residencySet?.commit();
    }
    return out;
  }

  /** Returns one buffer; its handle dies (views detached, further use throws STALE_HANDLE). */
  release(handle: PooledBuffer): void {
    if (this.disposed) throw disposedError();
    const slot = this.ownedSlot(handle, "release");
    const inUse = this.inUse;
    const last = inUse.pop()!;
    if (last !== slot) {
      inUse[slot.inUseIndex] = last;
      last.inUseIndex = slot.inUseIndex;
    }
    this.inUseBytes -= slot.capacity;
    this.giveBack(slot);
    if (this.trackOrder) this.enforceCacheCap();
    this.residencySet?.commit();
  }

  /** Returns every buffer handed out and not yet released (the end of a decode step). */
  reset(): void {
    if (this.disposed) throw disposedError();
    const inUse = this.inUse;
    for (let i = 0; i < inUse.length; i++) this.giveBack(inUse[i]!);
    inUse.length = 0;
    this.inUseBytes = 0;
    if (this.trackOrder) this.enforceCacheCap();
    this.residencySet?.commit();
  }

  /** Allocates up to `count` free buffers of `byteLength`'s bucket ahead of time; returns how many were added. */
  prewarm(byteLength: number, count: number): number {
    if (this.disposed) throw disposedError();
    const ci = this.classFor(byteLength);
    checkInt("count", count, 0, MAX_PREWARM);
    const list = this.free[ci]!;
    const capacity = this.bucketing.capacityOf(ci);
    const room = Math.min(
      count,
      this.maxFreePerClass - list.size,
      Math.floor((this.maxCachedBytes - this.freeBytes()) / capacity),
    );
    for (let i = 0; i < room; i++) this.addFree(this.fresh(ci));
    this.residencySet?.commit();
    return Math.max(0, room);
  }

  /** Fixed mode: prewarms every size class (ruvllm's prewarm_all); returns how many buffers were added. */
  prewarmAll(countPerClass: number): number {
    if (this.disposed) throw disposedError();
    const classes = this.bucketing.sizeClasses;
    if (!classes) {
      throw new LlmemError(
        "UNSUPPORTED",
        'prewarmAll needs bucketing: "fixed" (use prewarm(byteLength, count))',
        {
          argument: "bucketing",
        },
      );
    }
    checkInt("countPerClass", countPerClass, 0, MAX_PREWARM);
    let added = 0;
    for (const size of classes) added += this.prewarm(size, countPerClass);
    return added;
  }

  /** Frees every free buffer (buffers in use are untouched). */
  clear(): void {
    if (this.disposed) throw disposedError();
    for (const list of this.free) {
      for (const slot of list) this.destroy(slot);
      list.clear();
    }
    this.order.clear();
    this.residencySet?.commit();
  }

  /**
   * Registers a buffer the pool does not own (e.g. exact-size weights) for residency only:
   * never recycled by reset, never freed by the pool. Idempotent; returns true if newly added.
   */
  registerExisting(buffer: ArrayBuffer | MetalBuffer): boolean {
    if (this.disposed) throw disposedError();
    if (buffer instanceof PooledBuffer) {
      throw new LlmemError("INVALID_ARGUMENT", "buffer is a pooled buffer: the pool already owns it", {
        argument: "buffer",
      });
    }
    if (this.registered.has(buffer)) return false;
    if (this.backendImpl.kind === "metal") {
      if (!(buffer instanceof MetalBuffer)) {
        throw new LlmemError(
          "FOREIGN_HANDLE",
          "buffer must be a MetalBuffer of this device (allocMetalBuffer)",
          {
            argument: "buffer",
          },
        );
      }
      if (buffer.handle === 0) throw new LlmemError("STALE_HANDLE", "buffer (a MetalBuffer) was freed");
      if (!buffer.onDevice) {
        throw new LlmemError("FOREIGN_HANDLE", "buffer belongs to another Metal device", {
          argument: "buffer",
        });
      }
      if (this.residencySet) {
        this.residencySet.add(buffer.handle);
        this.residencySet.trackExternal(buffer);
        this.residencySet.commit();
      }
    } else if (buffer instanceof MetalBuffer) {
      throw new LlmemError("FOREIGN_HANDLE", "buffer is a Metal buffer; this pool holds host memory", {
        argument: "buffer",
      });
    } else if (!(buffer instanceof ArrayBuffer)) {
      throw new LlmemError("INVALID_ARGUMENT", "buffer must be an ArrayBuffer or a MetalBuffer", {
        argument: "buffer",
      });
    } else if (buffer.detached) {
      throw new LlmemError("STALE_HANDLE", "buffer is detached", { argument: "buffer" });
    }
    this.registered.add(buffer);
    return true;
  }

  /** Drops a registration (the buffer itself is untouched); returns whether it was registered. */
  unregisterExisting(buffer: ArrayBuffer | MetalBuffer): boolean {
    if (!this.registered.delete(buffer)) return false;
    if (buffer instanceof MetalBuffer && this.residencySet) {
      this.residencySet.remove(buffer.handle);
      this.residencySet.untrackExternal(buffer);
      this.residencySet.commit();
    }
    return true;
  }

  stats(): PoolStats {
    const lookups = this.hits + this.misses;
    const freeBuffers: { capacity: number; count: number }[] = [];
    this.free.forEach((list, i) => {
      if (list.size > 0) freeBuffers.push({ capacity: this.bucketing.capacityOf(i), count: list.size });
    });
    return {
      backend: this.backendImpl.kind,
      freeCount: this.totalCount - this.inUse.length,
      freeBytes: this.freeBytes(),
      inUseCount: this.inUse.length,
      inUseBytes: this.inUseBytes,
      requestedBytes: this.inUse.reduce((sum, slot) => sum + slot.owner!.byteLength, 0),
      hits: this.hits,
      misses: this.misses,
      hitRate: lookups === 0 ? 0 : this.hits / lookups,
      allocations: this.allocations,
      returns: this.returns,
      drops: this.drops,
      evictions: this.evictions,
      peakBytes: this.peakBytes,
      registeredCount: this.registered.size,
      residency: this.residencySet !== null,
      freeBuffers,
    };
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees everything the pool owns (handles die) and drops registrations; later calls throw DISPOSED. */
  dispose(): void {
    if (this.disposed) return;
    this.clear();
    for (const slot of this.inUse) {
      slot.owner = null;
      this.destroy(slot);
    }
    this.inUse.length = 0;
    this.inUseBytes = 0;
    for (const b of this.registered) if (b instanceof MetalBuffer) this.residencySet?.untrackExternal(b);
    this.registered.clear();
    this.residencySet?.dispose();
    this.disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private classFor(byteLength: number, name?: string): number {
    const b = this.bucketing;
    if (
      !(
        typeof byteLength === "number" &&
        byteLength >= 0 &&
        byteLength <= b.maxBytes &&
        Number.isInteger(byteLength)
      )
    ) {
      checkSize(name ?? "byteLength", byteLength, b.maxBytes); // throws with the argument and the limit
    }
    const ci = b.classOf(byteLength);
    if (ci < 0) {
      name ??= "byteLength";
      throw new LlmemError("OUT_OF_RANGE", `${name} must be at most ${b.maxBytes}, got ${byteLength}`, {
        argument: name,
        value: byteLength,
        max: b.maxBytes,
      });
    }
    return ci;
  }

  private ownedSlot(handle: PooledBuffer, op: string): Slot {
    if (!(handle instanceof PooledBuffer)) {
      throw new LlmemError("INVALID_ARGUMENT", `${op}: handle must be a PooledBuffer`, {
        argument: "handle",
      });
    }
    const slot = handle.slot;
    if (slot.pool !== this) {
      throw new LlmemError("FOREIGN_HANDLE", `${op}: handle belongs to another pool`, { argument: "handle" });
    }
    if (slot.owner !== handle) {
      throw new LlmemError("DOUBLE_FREE", `${op}: handle was already released (release/reset/clear)`, {
        argument: "handle",
      });
    }
    return slot;
  }

  /** A free slot of class `ci`, or a fresh one; nothing changes if the allocation fails. */
  private take(ci: number): Slot {
    const slot = this.free[ci]!.pop();
    if (slot === undefined) {
      const fresh = this.fresh(ci);
      this.misses++;
      return fresh;
    }
    this.hits++;
    if (this.trackOrder) this.order.unlink(slot);
    return slot;
  }

  private handOut(
    slot: Slot,
    byteLength: number,
    format: Format | undefined,
    shape: readonly number[] | undefined,
  ) {
    const handle = new PooledBuffer(slot, byteLength, format, shape);
    slot.owner = handle;
    slot.inUseIndex = this.inUse.length;
    this.inUse.push(slot);
    this.inUseBytes += slot.capacity;
    return handle;
  }

  private fresh(ci: number): Slot {
    const capacity = this.bucketing.capacityOf(ci);
    const memory = this.backendImpl.allocate(capacity);
    const slot = new Slot(this, memory, ci, capacity);
    if (this.residencySet && typeof memory.token === "number") this.residencySet.add(memory.token);
    this.allocations++;
    this.totalBytes += capacity;
    this.totalCount++;
    if (this.totalBytes > this.peakBytes) this.peakBytes = this.totalBytes;
    return slot;
  }

  /** Kills the owner's handle and puts the slot on its free list (or frees it if the class is full). */
  private giveBack(slot: Slot): void {
    slot.owner = null; // the handle is dead from here on (inUseIndex is only read while owned)
    if (slot.exposed && this.detachViews) {
      this.backendImpl.renew(slot.memory);
      slot.exposed = false;
    }
    if (this.capsPerClass && this.free[slot.classIndex]!.size >= this.maxFreePerClass) {
      this.drops++;
      this.destroy(slot);
    } else {
      this.returns++;
      this.addFree(slot);
    }
  }

  private addFree(slot: Slot): void {
    this.free[slot.classIndex]!.push(slot);
    if (this.trackOrder) this.order.append(slot);
  }

  private enforceCacheCap(): void {
    while (this.freeBytes() > this.maxCachedBytes) {
      const oldest = this.order.oldest!;
      this.order.unlink(oldest);
      this.free[oldest.classIndex]!.shift();
      this.evictions++;
      this.destroy(oldest);
    }
  }

  private destroy(slot: Slot): void {
    if (this.residencySet && typeof slot.memory.token === "number")
      this.residencySet.remove(slot.memory.token);
    this.backendImpl.free(slot.memory);
    this.totalBytes -= slot.capacity;
    this.totalCount--;
  }

  private freeBytes(): number {
    return this.totalBytes - this.inUseBytes;
  }
}

function disposedError(): LlmemError {
  return new LlmemError("DISPOSED", "pool was disposed");
}

function limitOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return value ?? fallback;
  return checkSize(name, value);
}

function checkMeta(
  meta: BufferMeta,
  byteLength: number,
): [Format | undefined, readonly number[] | undefined] {
  if (typeof meta !== "object" || meta === null) {
    throw new LlmemError("INVALID_ARGUMENT", "meta must be an object { format?, shape? }", {
      argument: "meta",
    });
  }
  const { format: named, dtype, shape } = meta;
  const format = checkMetaFormat(named, "meta.format") ?? checkMetaFormat(dtype, "meta.dtype");
  if (named !== undefined && dtype !== undefined && named !== dtype) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `meta.dtype (deprecated) names ${dtype} but meta.format names ${named}: give format only`,
      { argument: "meta.dtype" },
    );
  }
  let frozen: readonly number[] | undefined;
  if (shape !== undefined) {
    if (!Array.isArray(shape) || shape.length > 16) {
      throw new LlmemError("INVALID_ARGUMENT", "meta.shape must be an array of at most 16 dimensions", {
        argument: "meta.shape",
      });
    }
    frozen = Object.freeze(shape.map((d, i) => checkSize(`meta.shape[${i}]`, d)));
    if (format !== undefined) {
      const count = frozen.reduce((a, b) => a * b, 1);
      const info = FORMATS[format];
      const bytes = count % info.blockSize === 0 ? bytesFor(format, count) : Number.NaN;
      if (!(bytes <= byteLength)) {
        throw new LlmemError(
          "INVALID_ARGUMENT",
          `meta.shape [${frozen.join(", ")}] of ${format} needs ${bytes} bytes (whole blocks of ${info.blockSize}); byteLength is ${byteLength}`,
          { argument: "meta.shape", bytes, byteLength },
        );
      }
    }
  }
  return [format, frozen];
}

function checkMetaFormat(format: unknown, argument: string): Format | undefined {
  if (format !== undefined && formatInfo(format as Format) === undefined) {
    throw new LlmemError("INVALID_ARGUMENT", `${argument} must be one of ${ALL_FORMATS.join(", ")}`, {
      argument,
      value: format,
    });
  }
  return format as Format | undefined;
}
