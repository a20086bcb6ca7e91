import { LlmemError } from "@llmem/core";

/** Token ids as a Uint32Array, checking each is an integer in [0, 2^32); a Uint32Array passes as is. */
export function toTokenWords(name: string, tokens: ArrayLike<number>): Uint32Array {
  if (tokens instanceof Uint32Array) return tokens;
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be an array or typed array of token ids`, {
      argument: name,
    });
  }
  const n = tokens.length;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const t = tokens[i]!;
    // One test covers non-numbers, NaN, fractions, negatives and values >= 2^32.
    if (t >>> 0 !== t) throw badToken(name, i, t);
    out[i] = t;
  }
  return out;
}

export function badToken(name: string, index: number, value: unknown): LlmemError {
  return new LlmemError(
    "INVALID_ARGUMENT",
    `${name}[${index}] must be an integer token id in [0, 2^32), got ${String(value)}`,
    { argument: name, index },
  );
}
