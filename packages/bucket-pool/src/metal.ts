/**
 * Metal pieces of the pool (macOS): exact-size buffers allocated outside the pool (for
 * weights, which must not be rounded up to a bucket) and the residency set a pool keeps.
 */
import { type Pointer, toArrayBuffer } from "bun:ffi";
import { checkInt, LlmemError } from "@llmem/core";
import { nativeLib, requireNative } from "@llmem/native";
import { MAX_BUFFER_BYTES } from "./bucketing.ts";

const asPtr = (p: number) => p as unknown as Pointer;

/** True when libllmem is loaded and has a Metal device. */
export function isMetalAvailable(): boolean {
  const lib = nativeLib();
  return lib !== null && lib.llmem_metal_available() === 1;
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
    return this.#handle;
  }

  get buffer(): ArrayBuffer {
    if (this.#handle === 0) throw new LlmemError("STALE_HANDLE", "Metal buffer was freed");
    return this.#buffer;
  }

  /** True if the buffer lives on llmem's Metal device. */
  get onDevice(): boolean {
    const lib = nativeLib();
    return this.#handle !== 0 && lib !== null && lib.llmem_metal_buffer_on_device(asPtr(this.#handle)) === 1;
  }

  /** Releases the MTLBuffer; views of it are detached first. Pools it was registered with drop it first. */
  free(): void {
    if (this.#handle === 0) throw new LlmemError("DOUBLE_FREE", "Metal buffer was already freed");
    // A removal is only staged until commit: commit now, so no set keeps the freed buffer resident.
    for (const set of residencyOwners.get(this) ?? []) {
      set.remove(this.#handle);
      set.commit();
    }
    residencyOwners.delete(this);
    this.#buffer.transfer();
    requireNative("MetalBuffer.free").llmem_metal_buffer_release(asPtr(this.#handle));
    this.#handle = 0;
  }
}

/** Allocates a zeroed shared-storage Metal buffer of exactly `byteLength` bytes. */
export function allocMetalBuffer(byteLength: number): MetalBuffer {
  checkInt("byteLength", byteLength, 1, MAX_BUFFER_BYTES);
  const lib = requireNative("allocMetalBuffer");
  if (!lib.llmem_metal_available()) {
    throw new LlmemError("UNSUPPORTED", "allocMetalBuffer needs a Metal device (macOS)");
  }
  const p = lib.llmem_metal_buffer_new(byteLength);
  if (!p)
    throw new LlmemError("NATIVE_ALLOC_FAILED", `Metal buffer of ${byteLength} bytes failed`, { byteLength });
  return new MetalBuffer(
    Number(p),
    byteLength,
    toArrayBuffer(lib.llmem_metal_buffer_contents(p)!, 0, byteLength),
  );
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
    if (process.env.LLMEM_NO_RESIDENCY === "1") return null;
    const p = requireNative("residency sets").llmem_metal_residency_new();
    return p ? new Residency(Number(p)) : null;
  }

  /** Adds a buffer handle (idempotent); returns false if it was already a member. */
  add(handle: number): boolean {
    if (this.members.has(handle)) return false;
    if (nativeLib()!.llmem_metal_residency_add(asPtr(this.#set), asPtr(handle)) !== 0) {
      throw new LlmemError("FOREIGN_HANDLE", "buffer belongs to another Metal device");
    }
    this.members.add(handle);
    this.#pending = true;
    return true;
  }

  remove(handle: number): void {
    if (!this.members.delete(handle)) return;
    nativeLib()!.llmem_metal_residency_remove(asPtr(this.#set), asPtr(handle));
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
    nativeLib()!.llmem_metal_residency_commit(asPtr(this.#set));
  }

  /** Removes every member and releases the set. */
  dispose(): void {
    if (this.#set === 0) return;
    const lib = nativeLib()!;
    for (const h of this.members) lib.llmem_metal_residency_remove(asPtr(this.#set), asPtr(h));
    this.members.clear();
    lib.llmem_metal_residency_commit(asPtr(this.#set));
    lib.llmem_metal_residency_release(asPtr(this.#set));
    this.#set = 0;
  }
}
