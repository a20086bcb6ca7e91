/**
 * The only way pointers reach C: computed here from a live typed array after checking
 * that the range handed over lies inside it. No raw number from a caller becomes a pointer.
 */

import { type Pointer, ptr } from "bun:ffi";
import { checkRange, LlmemError, type TypedArray } from "@llmem/core";

/** Pointer to `count` elements of `view` starting at element `offset`, bounds-checked. */
export function viewPtr(name: string, view: TypedArray, offset = 0, count = view.length - offset): Pointer {
  if (!ArrayBuffer.isView(view)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a typed array`, { argument: name });
  }
  if ((view.buffer as ArrayBuffer).detached) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached (released) buffer`, {
      argument: name,
    });
  }
  checkRange(name, offset, count, view.length);
  if (view.byteLength === 0) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} is empty: no memory to pass`, { argument: name });
  }
  return ptr(view, offset * view.BYTES_PER_ELEMENT);
}

/** Like viewPtr, and the address must be a multiple of `align` bytes. */
export function alignedViewPtr(
  name: string,
  view: TypedArray,
  align: number,
  offset = 0,
  count?: number,
): Pointer {
  const p = viewPtr(name, view, offset, count);
  if (Number(p) % align !== 0) {
    throw new LlmemError("MISALIGNED", `${name} must be ${align}-byte aligned`, { argument: name, align });
  }
  return p;
}
