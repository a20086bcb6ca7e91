/**
 * The only way pointers reach C: derived here from a live typed array after checking that
 * the range handed over lies inside it. No raw number from a caller becomes a pointer.
 */

import { type Pointer, ptr } from "bun:ffi";
import { checkRange, LlmemError, type TypedArray } from "@llmem/core";

/**
 * What an FFI pointer argument accepts. A typed array passed as is reaches C as the address of
 * its first element, which is far cheaper than `ptr()` (measured: ~7 ns vs ~23 ns for a
 * two-pointer call), so the common whole-view case passes the view itself.
 */
export type NativePtr = Pointer | TypedArray;

function invalid(name: string, view: TypedArray, offset: number, count: number): never {
  if (!ArrayBuffer.isView(view)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a typed array`, { argument: name });
  }
  if ((view.buffer as ArrayBuffer).detached) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached (released) buffer`, {
      argument: name,
    });
  }
  checkRange(name, offset, count, view.length);
  throw new LlmemError("INVALID_ARGUMENT", `${name} is empty: no memory to pass`, { argument: name });
}

/** Pointer to `count` elements of `view` starting at element `offset`, bounds-checked. */
export function viewPtr(name: string, view: TypedArray, offset = 0, count = view.length - offset): NativePtr {
  // One comparison chain on the hot path; the slow path works out which rule was broken.
  // A detached view has length 0, so `offset + count <= length` with length > 0 excludes it.
  const length = ArrayBuffer.isView(view) ? view.length : 0;
  if (
    !(length > 0 && Number.isInteger(offset) && Number.isInteger(count) && offset >= 0 && count >= 0) ||
    offset + count > length
  ) {
    invalid(name, view, offset, count);
  }
  return offset === 0 ? view : ptr(view, offset * view.BYTES_PER_ELEMENT);
}

/** Like viewPtr, and the address must be a multiple of `align` bytes. */
export function alignedViewPtr(
  name: string,
  view: TypedArray,
  align: number,
  offset = 0,
  count?: number,
): NativePtr {
  const p = viewPtr(name, view, offset, count);
  if (Number(ptr(view, offset * view.BYTES_PER_ELEMENT)) % align !== 0) {
    throw new LlmemError("MISALIGNED", `${name} must be ${align}-byte aligned`, { argument: name, align });
  }
  return p;
}
