import { checkSize, describeValue, LlmemError } from "@llmem/core";
import { checkedLength, typedArrayKind } from "@llmem/native";

/** Most token ids one call hashes (a bound on `new Uint32Array(n)`, far beyond any prompt). */
const MAX_WORDS = 2 ** 30;

/** Token ids as a Uint32Array, checking each is an integer in [0, 2^32); a Uint32Array passes as is. */
export function toTokenWords(name: string, tokens: ArrayLike<number>): Uint32Array {
  if (typedArrayKind(tokens) === "Uint32Array") {
    // Measured by the engine: a detached view or one claiming a length it does not have is
    // refused (the native hash and the TS path would otherwise hash different words).
    const n = checkedLength(name, tokens, "Uint32Array");
    if (Object.getPrototypeOf(tokens) === Uint32Array.prototype) return tokens as Uint32Array;
    // A subclass: copied through the engine (set() reads the source's own elements), so later
    // reads cannot go through its getters.
    const copy = new Uint32Array(n);
    copy.set(tokens as Uint32Array);
    return copy;
  }
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be an array or typed array of token ids`, {
      argument: name,
    });
  }
  const n = checkSize(`${name}.length`, tokens.length, MAX_WORDS);
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
    `${name}[${index}] must be an integer token id in [0, 2^32), got ${describeValue(value)}`,
    { argument: name, index },
  );
}
