import { LlmemError } from "./errors.ts";

/**
 * A hostile value as an error message may show it: numbers, bigints and strings by value,
 * anything else by type. Never `String(value)`: on a detached typed array, an object inheriting
 * a typed-array prototype or a symbol in a template, that throws a TypeError (or runs the
 * caller's own toString) while the error is being built.
 */
export function describeValue(value: unknown): string {
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  return value === null ? "null" : typeof value;
}

/**
 * Bounds come from callers too (a pool's maxBytes, a view's length): a NaN bound makes every
 * comparison false and so would accept anything, so bounds must be integers or ±Infinity.
 */
function checkBound(name: string, bound: string, value: number): void {
  if (
    typeof value !== "number" ||
    Number.isNaN(value) ||
    (Number.isFinite(value) && !Number.isInteger(value))
  ) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name}: bound ${bound} must be an integer, got ${describeValue(value)}`,
      {
        argument: name,
        [bound]: value,
      },
    );
  }
}

/** An integer in [min, max]; anything else (NaN, Infinity, fractions, non-numbers) throws. */
export function checkInt(name: string, value: unknown, min: number, max: number): number {
  checkBound(name, "min", min);
  checkBound(name, "max", max);
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be an integer, got ${describeValue(value)}`, {
      argument: name,
      value,
    });
  }
  if (value < min || value > max) {
    throw new LlmemError("OUT_OF_RANGE", `${name} must be in [${min}, ${max}], got ${value}`, {
      argument: name,
      value,
      min,
      max,
    });
  }
  return value;
}

/** A byte count or element count: an integer in [0, max]. */
export function checkSize(name: string, value: unknown, max: number = Number.MAX_SAFE_INTEGER): number {
  return checkInt(name, value, 0, max);
}

export function checkPowerOfTwo(name: string, value: unknown, max: number = 2 ** 30): number {
  checkInt(name, value, 1, max);
  const v = value as number;
  // Not `v & (v - 1)`: bitwise operators truncate to 32 bits, so 3·2^31 would pass.
  if (2 ** Math.round(Math.log2(v)) !== v) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a power of two, got ${v}`, {
      argument: name,
      value: v,
    });
  }
  return v;
}

/** One of the `allowed` strings (a format, a mode); anything else throws INVALID_ARGUMENT listing them. */
export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `${name} must be one of ${allowed.join(", ")}, got ${describeValue(value)}`,
      {
        argument: name,
        value,
      },
    );
  }
  return value as T;
}

export function checkFiniteNumber(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a finite number, got ${describeValue(value)}`, {
      argument: name,
      value,
    });
  }
  return value;
}

/** `count` elements starting at `offset` must lie inside a view of `length` elements. */
export function checkRange(name: string, offset: number, count: number, length: number): void {
  checkSize(`${name} length`, length);
  checkSize(`${name} offset`, offset);
  checkSize(`${name} count`, count);
  if (offset + count > length) {
    throw new LlmemError(
      "OUT_OF_BOUNDS",
      `${name}: ${count} elements at offset ${offset} exceed its length ${length}`,
      { argument: name, offset, count, length },
    );
  }
}
