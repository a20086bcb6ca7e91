/**
 * Metal pieces of the pool (macOS): exact-size buffers allocated outside the pool (for
 * weights, which must not be rounded up to a bucket) and the residency set a pool keeps.
 */
import { checkInt, LlmemError } from "@llmem/core";
import {
  metalAvailable,
  metalBufferNew,
  metalBufferOnDevice,
  metalBufferRelease,
  metalResidencyAdd,
  metalResidencyCommit,
  metalResidencyNew,
  metalResidencyRelease,
  metalResidencyRemove,
} from "@llmem/native";
import { MAX_BUFFER_BYTES } from "./bucketing.ts";

/** True when Metal can be used: @llmem/native's one check (libllmem, a device, LLMEM_METAL not 0). */
export { metalAvailable };

/**
 * Buffers allocMetalBuffer made: `new MetalBuffer(0xdead0, …)` must never hand a made-up number
 * to the Metal release call, so every method refuses a buffer not in this set.
 */
const minted = new WeakSet<MetalBuffer>();

function checkMinted(b: MetalBuffer): void {
  if (!minted.has(b)) {
    throw new LlmemError("INVALID_ARGUMENT", "a MetalBuffer must come from allocMetalBuffer", {
      argument: "buffer",
    });
  }
}

/** A shared-storage MTLBuffer of exactly the requested size, owned by the caller. */
export class MetalBuffer {
  #handle: number;
  #buffer: ArrayBuffer;
  readonly byteLength: number;

  /** @internal use allocMetalBuffer */
  constructor(handle: number, byteLength: number, buffer: ArrayBuffer) {
    this.#handle = handle;
    this.byteLength = byteLength;
    this.#buffer = buffer;
  }

  /** @internal the retained MTLBuffer handle, 0 once freed */
  get handle(): number {
    checkMinted(this);
    return this.#handle;
  }

  get buffer(): ArrayBuffer {
    checkMinted(this);
    if (this.#handle === 0) throw new LlmemError("STALE_HANDLE", "Metal buffer was freed");
    return this.#buffer;
  }

  /** True if the buffer lives on llmem's Metal device. */
  get onDevice(): boolean {
    checkMinted(this);
    return metalBufferOnDevice(this.#handle);
  }

  /** Releases the MTLBuffer; views of it are detached first. Pools it was registered with drop it first. */
  free(): void {
    checkMinted(this);
    if (this.#handle === 0) throw new LlmemError("DOUBLE_FREE", "Metal buffer was already freed");
    // A removal is only staged until commit: commit now, so no set keeps the freed buffer resident.
    for (const set of residencyOwners.get(this) ?? []) {
      set.remove(this.#handle);
      set.commit();
    }
    residencyOwners.delete(this);
    this.#buffer.transfer();
    metalBufferRelease(this.#handle);
    this.#handle = 0;
  }
}

/** Allocates a zeroed shared-storage Metal buffer of exactly `byteLength` bytes. */
export function allocMetalBuffer(byteLength: number): MetalBuffer {
  checkInt("byteLength", byteLength, 1, MAX_BUFFER_BYTES);
  const { handle, buffer } = metalBufferNew(byteLength, "allocMetalBuffer");
  const b = new MetalBuffer(handle, byteLength, buffer);
  minted.add(b);
  return b;
}

const residencyOwners = new WeakMap<MetalBuffer, Set<Residency>>();

/**
 * A pool's residency set (null object when the OS has none or LLMEM_NO_RESIDENCY=1):
 * adds are batched and made effective by one commit.
 */
export class Residency {
  #set: number;
  #pending = false;
  readonly members = new Set<number>();

  private constructor(set: number) {
    this.#set = set;
  }

  static create(): Residency | null {
    const p = metalResidencyNew();
    return p !== 0 ? new Residency(p) : null;
  }

  /** Adds a buffer handle (idempotent); returns false if it was already a member. */
  add(handle: number): boolean {
    if (this.members.has(handle)) return false;
    if (!metalResidencyAdd(this.#set, handle)) {
      throw new LlmemError("FOREIGN_HANDLE", "buffer belongs to another Metal device");
    }
    this.members.add(handle);
    this.#pending = true;
    return true;
  }

  remove(handle: number): void {
    if (!this.members.delete(handle)) return;
    metalResidencyRemove(this.#set, handle);
    this.#pending = true;
  }

  trackExternal(buffer: MetalBuffer): void {
    const owners = residencyOwners.get(buffer) ?? new Set<Residency>();
    owners.add(this);
    residencyOwners.set(buffer, owners);
  }

  untrackExternal(buffer: MetalBuffer): void {
    residencyOwners.get(buffer)?.delete(this);
  }

  commit(): void {
    if (!this.#pending) return;
    this.#pending = false;
    metalResidencyCommit(this.#set);
  }

  /** Removes every member and releases the set. */
  dispose(): void {
    if (this.#set === 0) return;
    for (const h of this.members) metalResidencyRemove(this.#set, h);
    this.members.clear();
    metalResidencyCommit(this.#set);
    metalResidencyRelease(this.#set);
    this.#set = 0;
  }
}
