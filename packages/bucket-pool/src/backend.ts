/**
 * Where pooled bytes come from. A backend allocates a buffer of a bucket's capacity,
 * re-issues its ArrayBuffer (detaching every old view) and frees it.
 */
import { LlmemError } from "@llmem/core";
import {
  allocNative,
  detach,
  freeNative,
  isNativeAvailable,
  metalBufferNew,
  metalBufferRelease,
  type NativeBlock,
  requireMetal,
} from "@llmem/native";

export type BackendKind = "native" | "js" | "metal";

/** One buffer's memory: `buffer` is replaced by `renew`, so hold the memory, not the buffer. */
export interface Memory {
  buffer: ArrayBuffer;
  /** Native block, Metal buffer pointer, or null for a plain ArrayBuffer. */
  readonly token: NativeBlock | number | null;
}

export interface Backend {
  readonly kind: BackendKind;
  allocate(capacity: number): Memory;
  /** Detaches every view of the memory and gives it a fresh ArrayBuffer. */
  renew(memory: Memory): void;
  free(memory: Memory): void;
}

/** 64-byte aligned libllmem memory. */
export const nativeBackend: Backend = {
  kind: "native",
  allocate(capacity) {
    const block = allocNative(capacity, 64);
    return { buffer: block.buffer, token: block };
  },
  renew(memory) {
    memory.buffer = detach(memory.token as NativeBlock);
  },
  free(memory) {
    freeNative(memory.token as NativeBlock);
  },
};

/** Plain ArrayBuffers (native off); transfer() detaches views without copying. */
export const jsBackend: Backend = {
  kind: "js",
  allocate(capacity) {
    try {
      return { buffer: new ArrayBuffer(capacity), token: null };
    } catch (e) {
      throw new LlmemError("NATIVE_ALLOC_FAILED", `ArrayBuffer of ${capacity} bytes could not be allocated`, {
        byteLength: capacity,
        cause: String(e),
      });
    }
  },
  renew(memory) {
    memory.buffer = memory.buffer.transfer();
  },
  free(memory) {
    memory.buffer.transfer(); // detach so no view outlives the pool's ownership
  },
};

/** Shared-storage MTLBuffers, their contents exposed as ArrayBuffers (macOS only). */
export function metalBackend(): Backend {
  requireMetal('backend "metal"');
  return {
    kind: "metal",
    allocate(capacity) {
      const { handle, buffer } = metalBufferNew(capacity, 'backend "metal"');
      return { buffer, token: handle };
    },
    renew(memory) {
      memory.buffer = memory.buffer.transfer();
    },
    free(memory) {
      memory.buffer.transfer(); // no view may reach the memory once Metal frees it
      metalBufferRelease(memory.token as number);
    },
  };
}

export function hostBackend(): Backend {
  return isNativeAvailable() ? nativeBackend : jsBackend;
}
