/**
 * The only way pointers reach C: derived here from a live typed array after checking that
 * the range handed over lies inside it. No raw number from a caller becomes a pointer.
 */

import { type Pointer, ptr } from "bun:ffi";
import { checkRange, describeValue, LlmemError, type TypedArray } from "@llmem/core";
import {
  checkedByteLength,
  engineByteLength,
  engineLength,
  isDetachedView,
  typedArrayKind,
} from "./views.ts";

/**
 * What an FFI pointer argument accepts. A typed array passed as is reaches C as the address of
 * its first element, which is far cheaper than `ptr()` (measured: ~7 ns vs ~23 ns for a
 * two-pointer call), so the common whole-view case passes the view itself.
 */
export type NativePtr = Pointer | TypedArray;

function invalid(name: string, view: unknown, offset: number, count: number, length: number): never {
  if (length < 0) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a typed array`, { argument: name });
  }
  if (isDetachedView(view as ArrayBufferView)) {
    throw new LlmemError("STALE_HANDLE", `${name} is a view of a detached (released) buffer`, {
      argument: name,
    });
  }
  checkRange(name, offset, count, length);
  throw new LlmemError("INVALID_ARGUMENT", `${name} is empty: no memory to pass`, { argument: name });
}

/**
 * Pointer to `count` elements of `view` starting at element `offset`, bounds-checked against
 * the view's length and element size as the engine has them (engineLength): a subclass or an
 * own property claiming a larger `length` cannot widen what C may touch.
 */
let capacity = 0;

/**
 * The bytes from the start of the range the last viewPtr/typedPtr/alignedViewPtr returned to the
 * end of its view, as the engine measured them: the capacity every bounded libllmem entry point
 * takes beside the pointer, so C checks its own reach too. Read it right after the pointer, in the
 * same argument list (`f(viewPtr("a", a), lastCapacity(), ...)`: JS evaluates arguments in order).
 */
export function lastCapacity(): number {
  return capacity;
}

export function viewPtr(name: string, view: TypedArray, offset = 0, count?: number): NativePtr {
  const length = engineLength(view);
  const n = count === undefined ? length - offset : count;
  // One comparison chain on the hot path; the slow path works out which rule was broken.
  // A detached view has length 0, so `offset + n <= length` with length > 0 excludes it.
  if (
    !(length > 0 && Number.isInteger(offset) && Number.isInteger(n) && offset >= 0 && n >= 0) ||
    offset + n > length
  ) {
    invalid(name, view, offset, n, length);
  }
  const bytes = engineByteLength(view);
  if (offset === 0) {
    capacity = bytes;
    return view;
  }
  const start = offset * (bytes / length);
  capacity = bytes - start;
  return ptr(view, start);
}

/**
 * viewPtr for a view C reads or writes as `kind` elements: the kind is the engine's (a Uint8Array
 * wearing Float32Array's prototype is refused), so `count` elements are `count` C elements.
 * `count` is required: C is told nothing about the view, so the caller names every element C
 * may touch and this checks them all against the engine's length.
 */
export function typedPtr(
  name: string,
  view: TypedArray,
  kind: "Float32Array" | "Uint32Array" | "Uint16Array",
  offset: number,
  count: number,
): NativePtr {
  const actual = typedArrayKind(view);
  if (actual !== kind) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} must be a ${kind}, got ${actual ?? (view === null ? "null" : typeof view)}`,
      { argument: name },
    );
  }
  return viewPtr(name, view, offset, count);
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
  if (Number(ptr(view, offset * (engineByteLength(view) / engineLength(view)))) % align !== 0) {
    throw new LlmemError("MISALIGNED", `${name} must be ${align}-byte aligned`, { argument: name, align });
  }
  return p;
}

/** libllmem's bounded entry points: LLMEM_EBOUNDS (a buffer smaller than the call needs). */
export const LLMEM_EBOUNDS = -2;

/**
 * Throws for a bounded entry point's non-zero return code. LLMEM_EBOUNDS means C found a buffer
 * smaller than the call needs, which the binding's own checks should have stopped: reported as
 * OUT_OF_BOUNDS (nothing was touched). Other codes: `otherCode` (the entry point's own -1).
 */
export function throwRefusal(rc: number, what: string, otherCode: "INVALID_ARGUMENT" | "UNSUPPORTED"): never {
  if (rc === LLMEM_EBOUNDS) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `${what}: libllmem refused a buffer smaller than the call needs (nothing was touched)`,
      { code: rc },
    );
  }
  throw new LlmemError(otherCode, `${what}: libllmem refused the call (code ${rc})`, { code: rc });
}

/**
 * A refusal naming its argument: on LLMEM_EBOUNDS, the first operand that is not a live view
 * (STALE_HANDLE / INVALID_ARGUMENT from checkedByteLength) or holds fewer bytes than the call
 * needs (OUT_OF_BOUNDS) is named; only if none is, the generic refusal. Run on the failure path
 * only, so the hot path pays nothing for the better message.
 */
export function refusalNaming(
  rc: number,
  what: string,
  otherCode: "INVALID_ARGUMENT" | "UNSUPPORTED",
  operands: readonly (readonly [name: string, view: unknown, needBytes: number])[],
): never {
  if (rc === LLMEM_EBOUNDS) {
    for (const [name, view, need] of operands) {
      const have = checkedByteLength(name, view);
      if (!(have >= need)) {
        throw new LlmemError(
          "OUT_OF_BOUNDS",
          `${what}: ${name} holds ${have} bytes, the call needs ${need} (nothing was touched)`,
          { argument: name, have, need },
        );
      }
    }
  }
  throwRefusal(rc, what, otherCode);
}

/** A count handed to C as a u32: an integer in [0, 2^32), else INVALID_ARGUMENT naming it. */
export function checkU32(name: string, n: unknown): number {
  if (typeof n !== "number" || n >>> 0 !== n) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} must be an integer in [0, 2^32), got ${describeValue(n)}`,
      {
        argument: name,
      },
    );
  }
  return n;
}

/** After a value-returning bounded call gave its refusal value (NaN or 0): throws if C refused. */
export function checkLastError(lastError: () => number, what: string): void {
  const rc = lastError();
  if (rc !== 0) throwRefusal(rc, what, "INVALID_ARGUMENT");
}
