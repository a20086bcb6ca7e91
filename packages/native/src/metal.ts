/**
 * Metal (macOS) through libllmem: the one availability check, buffers, residency sets, and the
 * GPU kernels. Failure policy (README): a call that asks for Metal by name (a Metal buffer, the
 * metal pool backend, dequantizeIntoMetal, matvecMetal) throws UNSUPPORTED when Metal is not
 * available; a path that only prefers the GPU (paged attention) falls back to the CPU kernel
 * and says where it ran. `metalAvailable()` is false when libllmem is not loaded, has no
 * device (always off macOS), or LLMEM_METAL=0.
 */
import { type Pointer, toArrayBuffer } from "bun:ffi";
import { FORMATS, LlmemError, type MatrixFormat, type RowFormat, type TypedArray } from "@llmem/core";
import { loaded } from "./loaded.ts";
import { LLMEM_EBOUNDS, lastCapacity, throwRefusal, typedPtr, viewPtr } from "./pointers.ts";
import { checkedByteLength } from "./views.ts";

const asPtr = (p: number) => p as unknown as Pointer;
let device: boolean | undefined;

/** True when Metal kernels and buffers can be used: libllmem loaded, a device, LLMEM_METAL not "0". */
export function metalAvailable(): boolean {
  if (process.env.LLMEM_METAL === "0") return false;
  if (device === undefined) {
    const lib = loaded();
    device = lib !== null && lib.llmem_metal_available() === 1;
  }
  return device;
}

/** Throws UNSUPPORTED naming `what` unless Metal is available (the policy for explicit requests). */
export function requireMetal(what: string): void {
  if (!metalAvailable()) {
    throw new LlmemError(
      "UNSUPPORTED",
      `${what} needs a Metal device (macOS with libllmem loaded, LLMEM_METAL not 0)`,
    );
  }
}

const lib = () => loaded()!;

/** A zeroed shared-storage MTLBuffer of `bytes`: its handle and its contents as an ArrayBuffer. */
export function metalBufferNew(
  bytes: number,
  what = "a Metal buffer",
): { handle: number; buffer: ArrayBuffer } {
  requireMetal(what);
  const p = lib().llmem_metal_buffer_new(bytes);
  if (!p) {
    throw new LlmemError("NATIVE_ALLOC_FAILED", `Metal buffer of ${bytes} bytes could not be allocated`, {
      byteLength: bytes,
    });
  }
  return { handle: Number(p), buffer: metalBufferContents(Number(p)) };
}

/** The contents of a live buffer handle, as a fresh ArrayBuffer over its whole length. */
export function metalBufferContents(handle: number): ArrayBuffer {
  const l = lib();
  return toArrayBuffer(
    l.llmem_metal_buffer_contents(asPtr(handle))!,
    0,
    Number(l.llmem_metal_buffer_length(asPtr(handle))),
  );
}

export function metalBufferRelease(handle: number): void {
  lib().llmem_metal_buffer_release(asPtr(handle));
}

export function metalBufferOnDevice(handle: number): boolean {
  const l = loaded();
  return handle !== 0 && l !== null && l.llmem_metal_buffer_on_device(asPtr(handle)) === 1;
}

/** True when all of `bytes` lies inside one live llmem Metal buffer (kernels read it in place). */
export function metalHolds(bytes: Uint8Array): boolean {
  const l = loaded();
  const n = checkedByteLength("bytes", bytes);
  return l !== null && n > 0 && l.llmem_metal_holds(viewPtr("bytes", bytes), n) === 1;
}

/** A residency set's handle, or 0 when the OS has none (or LLMEM_NO_RESIDENCY=1). */
export function metalResidencyNew(): number {
  if (process.env.LLMEM_NO_RESIDENCY === "1" || !metalAvailable()) return 0;
  return Number(lib().llmem_metal_residency_new() ?? 0);
}
/** Adds a buffer; false if it lives on another device. */
export function metalResidencyAdd(set: number, buffer: number): boolean {
  return lib().llmem_metal_residency_add(asPtr(set), asPtr(buffer)) === 0;
}
export function metalResidencyRemove(set: number, buffer: number): void {
  lib().llmem_metal_residency_remove(asPtr(set), asPtr(buffer));
}
export function metalResidencyCommit(set: number): void {
  lib().llmem_metal_residency_commit(asPtr(set));
}
export function metalResidencyRelease(set: number): void {
  lib().llmem_metal_residency_release(asPtr(set));
}

/**
 * Dequantizes `count` values on the GPU. The caller has checked that bytes holds their blocks and
 * dst `count` floats (views.ts lengths). Throws UNSUPPORTED if Metal is missing or fails.
 */
export function metalDequantize(
  format: "q8_0" | "q4_0" | "q4_K" | "q6_K",
  bytes: Uint8Array,
  dst: Float32Array,
  count: number,
): void {
  requireMetal("dequantizeIntoMetal");
  if (count === 0) return;
  const rc = lib().llmem_metal_dequantize_checked(
    FORMATS[format].id,
    bytes,
    checkedByteLength("bytes", bytes),
    dst,
    checkedByteLength("dst", dst),
    count,
  );
  if (rc === LLMEM_EBOUNDS) throwRefusal(rc, "llmem_metal_dequantize", "UNSUPPORTED");
  if (rc !== 0)
    throw new LlmemError("UNSUPPORTED", `Metal dequantize failed (${count} values too many for one buffer?)`);
}

/** y = W x on the GPU; w holds `elements` elements (checked by the caller), x cols, y rows. */
export function metalMatvec(
  format: MatrixFormat,
  w: TypedArray,
  elements: number,
  rows: number,
  cols: number,
  x: Float32Array,
  y: Float32Array,
): void {
  requireMetal("matvecMetal");
  const rc = lib().llmem_metal_matvec_checked(
    FORMATS[format].id,
    viewPtr("w.data", w, 0, elements),
    lastCapacity(),
    rows,
    cols,
    typedPtr("x", x, "Float32Array", 0, cols),
    lastCapacity(),
    typedPtr("y", y, "Float32Array", 0, rows),
    lastCapacity(),
  );
  if (rc === LLMEM_EBOUNDS) throwRefusal(rc, "llmem_metal_matvec", "UNSUPPORTED");
  if (rc !== 0)
    throw new LlmemError("UNSUPPORTED", `Metal matvec failed for a ${rows}×${cols} ${format} matrix`);
}

/** Arguments of paged attention, validated by the caller (kv-cache: checkPagedArgs, or block ids from its own allocator). */
export interface PagedCall {
  format: RowFormat;
  query: Float32Array;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  kBytes: Uint8Array;
  vBytes: Uint8Array;
  blockTable: Uint32Array;
  numBlocks: number;
  blockSize: number;
  numTokens: number;
  scale: number;
  out: Float32Array;
  lse: Float32Array;
}

/** Paged attention on the GPU; false (nothing written that matters) when Metal is missing or fails. */
export function metalPagedAttention(a: PagedCall): boolean {
  if (!metalAvailable()) return false;
  // Each field read once and every view bounded by what the kernel touches (see nativePagedAttention).
  const { format, query, numHeads, numKvHeads, headDim, kBytes, vBytes, blockTable } = a;
  const { numBlocks, blockSize, numTokens, scale, out, lse } = a;
  const rc = lib().llmem_metal_paged_attention_checked(
    FORMATS[format].id,
    typedPtr("query", query, "Float32Array", 0, numHeads * headDim),
    lastCapacity(),
    numHeads,
    numKvHeads,
    headDim,
    viewPtr("kPool", kBytes),
    lastCapacity(),
    viewPtr("vPool", vBytes),
    lastCapacity(),
    typedPtr("blockTable", blockTable, "Uint32Array", 0, numBlocks),
    lastCapacity(),
    blockSize,
    numTokens,
    scale,
    typedPtr("out", out, "Float32Array", 0, numHeads * headDim),
    lastCapacity(),
    typedPtr("lse", lse, "Float32Array", 0, numHeads),
    lastCapacity(),
  );
  return rc === 0;
}
