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
  const length = typeof tokens === "object" && tokens !== null ? tokens.length : undefined;
  if (typeof length !== "number") {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be an array or typed array of token ids`, {
      argument: name,
    });
  }
  // `length` read once (a getter answering 4 when checked and 2^30 when used would otherwise
  // size the copy), and the copy grown as ids are validated, so `{ length: 2^30 }` with no
  // elements is refused at index 0 rather than after allocating 4 GiB.
  const n = checkSize(`${name}.length`, length, MAX_WORDS);
  let out = new Uint32Array(Math.min(n, 1 << 16));
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    // typeof first: `>>>` throws on a symbol or a bigint and runs an object's valueOf.
    if (typeof t !== "number" || t >>> 0 !== t) throw badToken(name, i, t);
    if (i === out.length) {
      const grown = new Uint32Array(Math.min(n, 2 * out.length));
      grown.set(out);
      out = grown;
    }
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
