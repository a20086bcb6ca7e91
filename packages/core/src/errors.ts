/**
 * Every llmem failure is an `LlmemError` with a stable string `code` that callers can
 * switch on; the message names the argument and the limit it broke.
 */
export type LlmemErrorCode =
  | "INVALID_ARGUMENT"
  | "OUT_OF_RANGE"
  | "OUT_OF_BOUNDS"
  | "MISALIGNED"
  | "NATIVE_UNAVAILABLE"
  | "NATIVE_ALLOC_FAILED"
  | "STALE_HANDLE"
  | "FOREIGN_HANDLE"
  | "DOUBLE_FREE"
  | "DISPOSED"
  | "ARENA_EXHAUSTED"
  | "POOL_EXHAUSTED"
  | "BLOCK_NOT_LIVE"
  | "REFCOUNT_OVERFLOW"
  | "CAPACITY_EXCEEDED"
  | "UNKNOWN_SEQUENCE"
  | "FORMAT_ERROR"
  | "UNSUPPORTED"
  /** A host could not be reached, or a transfer failed or was cut off. */
  | "NETWORK_ERROR"
  /** Downloaded bytes differ from the size or sha256 the server announced. */
  | "CHECKSUM_MISMATCH";

export class LlmemError extends Error {
  override readonly name: string = "LlmemError";
  readonly code: LlmemErrorCode;
  /** Structured facts about the failure (requested vs available, the limit, ...). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: LlmemErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** Out of blocks/buffers: carries how many were asked for and how many are free. */
export class PoolExhaustedError extends LlmemError {
  override readonly name = "PoolExhaustedError";
  readonly requested: number;
  readonly available: number;

  constructor(message: string, requested: number, available: number) {
    super("POOL_EXHAUSTED", message, { requested, available });
    this.requested = requested;
    this.available = available;
  }
}

export function isLlmemError(e: unknown, code?: LlmemErrorCode): e is LlmemError {
  return e instanceof LlmemError && (code === undefined || e.code === code);
}
