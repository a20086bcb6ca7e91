/**
 * Size classes ("buckets"): every request maps to a class whose capacity is at least the
 * request, and a freed buffer only serves later requests of its own class.
 */
import { checkInt, checkPowerOfTwo, checkSize, LlmemError } from "@llmem/core";

/** The largest request any pool accepts (bucket arithmetic below is exact up to 2^32). */
export const MAX_BUFFER_BYTES = 2 ** 32;

/** The default fixed size classes: 1 KiB, 4 KiB, 16 KiB, 64 KiB, 256 KiB (the classes of the Rust seed design). */
export const DEFAULT_SIZE_CLASSES: readonly number[] = Object.freeze([1024, 4096, 16384, 65536, 262144]);

export type BucketMode = "pow2" | "fine" | "fixed";

export interface Bucketing {
  readonly mode: BucketMode;
  /** Number of class indices (some may never be used). */
  readonly classCount: number;
  /** Largest request that maps to a class. */
  readonly maxBytes: number;
  /** Class index of a request of `byteLength` bytes, or -1 above the largest class. */
  classOf(byteLength: number): number;
  /** Capacity in bytes of every buffer of class `index`. */
  capacityOf(index: number): number;
  /** Fixed mode: the class capacities, ascending; otherwise undefined. */
  readonly sizeClasses?: readonly number[];
}

/** Power-of-two bucketing, exactly as the MLX seed: 0→1, 1→1, 3→4, 1023→1024, 1025→2048. */
export function powerOfTwoBucket(byteLength: number): number {
  // clz32 truncates to 32 bits: 1.5 or 2^32 + 1 would map to a bucket smaller than the request.
  checkSize("byteLength", byteLength, MAX_BUFFER_BYTES);
  return byteLength <= 1 ? 1 : 2 ** (32 - Math.clz32(byteLength - 1));
}

export function pow2Bucketing(maxBytes: number = MAX_BUFFER_BYTES): Bucketing {
  checkInt("maxBytes", maxBytes, 1, MAX_BUFFER_BYTES);
  return {
    mode: "pow2",
    classCount: 33,
    maxBytes,
    // Class i holds 2^i bytes; clz32 of (n-1) finds the next power of two without floats.
    classOf: (n) => (n <= 1 ? 0 : 32 - Math.clz32(n - 1)),
    capacityOf: (i) => 2 ** i,
  };
}

/**
 * `perPowerOfTwo` classes between consecutive powers of two (4 → 1024, 1280, 1536, 1792,
 * 2048, ...), so the waste is at most 1/perPowerOfTwo of the request instead of up to 2×.
 */
export function fineBucketing(perPowerOfTwo: number, maxBytes: number = MAX_BUFFER_BYTES): Bucketing {
  const k = checkPowerOfTwo("classesPerPowerOfTwo", perPowerOfTwo, 64);
  checkInt("maxBytes", maxBytes, 1, MAX_BUFFER_BYTES);
  const capacities: number[] = [1];
  for (let p = 0; p < 32; p++) {
    const step = Math.max(1, 2 ** p / k);
    for (let sub = 1; sub <= k; sub++) capacities.push(2 ** p + sub * step);
  }
  return {
    mode: "fine",
    classCount: capacities.length,
    maxBytes,
    classOf(n) {
      if (n <= 1) return 0;
      // (2^p, 2^(p+1)] is split into k equal steps (steps of at least one byte).
      const p = 31 - Math.clz32(n - 1);
      const base = 2 ** p;
      const step = base < k ? 1 : base / k;
      return 1 + p * k + Math.ceil((n - base) / step) - 1;
    },
    capacityOf: (i) => capacities[i]!,
  };
}

/** Explicit classes (default: DEFAULT_SIZE_CLASSES); requests above the largest are refused. */
export function fixedBucketing(sizeClasses: readonly number[] = DEFAULT_SIZE_CLASSES): Bucketing {
  if (!Array.isArray(sizeClasses) || sizeClasses.length === 0 || sizeClasses.length > 64) {
    throw new LlmemError("INVALID_ARGUMENT", "sizeClasses must be a non-empty array of at most 64 sizes", {
      argument: "sizeClasses",
    });
  }
  // Every index read (not .map, which skips the holes of a sparse array and keeps them).
  const classes: number[] = [];
  for (let i = 0; i < sizeClasses.length; i++) {
    classes.push(checkInt(`sizeClasses[${i}]`, sizeClasses[i], 1, MAX_BUFFER_BYTES));
  }
  for (let i = 1; i < classes.length; i++) {
    if (classes[i]! <= classes[i - 1]!) {
      throw new LlmemError("INVALID_ARGUMENT", "sizeClasses must be strictly ascending", {
        argument: "sizeClasses",
        value: sizeClasses,
      });
    }
  }
  const frozen = Object.freeze(classes);
  return {
    mode: "fixed",
    classCount: classes.length,
    maxBytes: classes[classes.length - 1]!,
    sizeClasses: frozen,
    classOf(n) {
      for (let i = 0; i < frozen.length; i++) if (n <= frozen[i]!) return i;
      return -1;
    },
    capacityOf: (i) => frozen[i]!,
  };
}
