/**
 * Chained block hashes: block i's hash covers its tokens and block i-1's hash, so equal
 * prefixes give equal leading hashes. Token ids are encoded as little-endian u32.
 */
import { checkInt, LlmemError } from "@llmem/core";

const M = 0x9e3779b1;

/** A seedless 64-bit hash of (parent, tokens) as two 32-bit lanes, returned as a bigint. */
export function blockHash(parent: bigint, tokens: ArrayLike<number>): bigint {
  let h1 = Number(parent & 0xffffffffn) ^ 0x85ebca6b;
  let h2 = Number(parent >> 32n) ^ 0xc2b2ae35;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) {
      throw new LlmemError("INVALID_ARGUMENT", `tokens[${i}] must be an integer in [0, 2^32), got ${t}`);
    }
    h1 = Math.imul(h1 ^ t, M);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ h1, 0x27d4eb2f) ^ (h2 >>> 15);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) ^ tokens.length;
  h2 = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35) ^ h1;
  return (BigInt(h2 >>> 0) << 32n) | BigInt(h1 >>> 0);
}

/** One hash per full block; a trailing partial block gets none. */
export function hashChain(tokens: ArrayLike<number>, blockSize: number): bigint[] {
  checkInt("blockSize", blockSize, 1, 1 << 20);
  const out: bigint[] = [];
  let parent = 0n;
  for (let start = 0; start + blockSize <= tokens.length; start += blockSize) {
    parent = blockHash(parent, Array.prototype.slice.call(tokens, start, start + blockSize) as number[]);
    out.push(parent);
  }
  return out;
}
