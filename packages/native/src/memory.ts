/**
 * 64-byte aligned native memory handed to JS as ArrayBuffers. Each allocation is tracked
 * by address so a foreign or already-freed buffer can never reach llmem_free.
 *
 * Invalidation: `detach(buffer)` uses ArrayBuffer.prototype.transfer(), which in Bun moves
 * the same memory to a new ArrayBuffer and detaches the old one with all its views, so a
 * stale handle reads length 0 instead of aliasing the next owner's bytes.
 */

import { type Pointer, ptr, toArrayBuffer } from "bun:ffi";
import { checkPowerOfTwo, checkSize, LlmemError, type TypedArray } from "@llmem/core";
import { nativeLib } from "./library.ts";
import { requireNative } from "./runtime.ts";

/** Largest single native allocation accepted (guards size_t overflow and typos). */
export const MAX_NATIVE_BYTES = 2 ** 40;

export interface NativeBlock {
  /** The bytes; replaced by `detach`, so hold the block, not the buffer. */
  buffer: ArrayBuffer;
  readonly address: number;
  readonly byteLength: number;
  readonly align: number;
}

const live = new Map<number, NativeBlock>();
/**
 * The real buffer of each live block: `block.buffer` is a public field a caller could replace,
 * and freeing must detach the views of the memory itself, not of whatever the field now holds.
 */
const buffers = new WeakMap<NativeBlock, ArrayBuffer>();
/** The real address of each live block: freeing reads it from here, never from the editable field. */
const addresses = new WeakMap<NativeBlock, number>();

/** Allocates zeroed native memory; freed explicitly by `freeNative` (or never, if leaked). */
export function allocNative(byteLength: number, align = 64): NativeBlock {
  checkSize("byteLength", byteLength, MAX_NATIVE_BYTES);
  checkPowerOfTwo("align", align, 1 << 20);
  if (byteLength === 0) {
    throw new LlmemError("INVALID_ARGUMENT", "byteLength must be at least 1 for native memory", {
      argument: "byteLength",
    });
  }
  const lib = requireNative("allocNative");
  const p = lib.llmem_alloc(byteLength, Math.max(align, 8));
  if (!p) {
    throw new LlmemError("NATIVE_ALLOC_FAILED", `llmem_alloc of ${byteLength} bytes failed`, { byteLength });
  }
  const block: NativeBlock = {
    buffer: toArrayBuffer(p, 0, byteLength),
    address: Number(p),
    byteLength,
    align,
  };
  live.set(block.address, block);
  buffers.set(block, block.buffer);
  addresses.set(block, block.address);
  return block;
}

/** Detaches every existing view of the block and gives it a fresh ArrayBuffer over the same memory. */
export function detach(block: NativeBlock): ArrayBuffer {
  if (!isNativeBlock(block)) {
    throw new LlmemError("FOREIGN_HANDLE", "block was not allocated by allocNative or was already freed");
  }
  const fresh = buffers.get(block)!.transfer();
  buffers.set(block, fresh);
  block.buffer = fresh;
  return fresh;
}

/** Frees the memory after detaching every view of it, so no JS reference can reach freed memory. */
export function freeNative(block: NativeBlock): void {
  if (!isNativeBlock(block)) {
    throw new LlmemError("DOUBLE_FREE", "block was not allocated by allocNative or was already freed", {
      argument: "block",
    });
  }
  const address = addresses.get(block)!;
  buffers.get(block)!.transfer(); // the returned buffer is dropped: nothing can read the memory after free
  buffers.delete(block);
  addresses.delete(block);
  live.delete(address);
  nativeLib()!.llmem_free(address as unknown as Pointer);
}

export function isNativeBlock(block: unknown): block is NativeBlock {
  if (typeof block !== "object" || block === null) return false;
  const address = addresses.get(block as NativeBlock);
  return address !== undefined && live.get(address) === block;
}

/** Bytes currently allocated through libllmem (all callers). */
export function nativeLiveBytes(): number {
  const lib = nativeLib();
  return lib ? Number(lib.llmem_live_bytes()) : 0;
}

/** Address of a view's first byte (for alignment checks). */
export function addressOf(view: TypedArray | DataView): number {
  return view.byteLength === 0 ? 0 : Number(ptr(view));
}
