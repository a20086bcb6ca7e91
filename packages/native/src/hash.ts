/**
 * libllmem's LH64 hashing (prefix-hash's native paths, one FFI call per prompt), validated here;
 * every caller has the pure-TS path of prefix-hash's lh64.ts for when these return false/null.
 * All lengths are checked against the views before the call so C never reads or writes outside them.
 */
import { describeValue, LlmemError } from "@llmem/core";
import { loaded } from "./loaded.ts";
import { checkLastError, checkU32, lastCapacity, throwRefusal, typedPtr } from "./pointers.ts";
import { checkedLength } from "./views.ts";

export function hashNative(): boolean {
  return loaded() !== null;
}

function outOfBounds(argument: string, message: string): never {
  throw new LlmemError("OUT_OF_BOUNDS", message, { argument });
}

/** A chain's parent: a bigint in [0, 2^64) (bun:ffi would coerce anything else, or throw a TypeError). */
function checkParent(parent: unknown): bigint {
  if (typeof parent !== "bigint" || parent < 0n || parent >= 1n << 64n) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `parent must be a bigint in [0, 2^64), got ${describeValue(parent)}`,
      {
        argument: "parent",
      },
    );
  }
  return parent;
}

/**
 * Chain over `blocks` blocks of `blockSize` words of `tokens` into out (2 u32 per block).
 * Returns false when native is off (the caller then runs the TS path).
 */
export function nativeChain(
  tokens: Uint32Array,
  blockSize: number,
  blocks: number,
  extra: Uint32Array | null,
  offsets: Uint32Array | null,
  parent: bigint,
  out: Uint32Array,
): boolean {
  const lib = loaded();
  if (lib === null) return false;
  // Every count a u32 and every view measured by the engine (its own `length` may lie),
  // checked before C is called; C checks the same bounds again.
  checkU32("blockSize", blockSize);
  checkU32("blocks", blocks);
  checkParent(parent);
  const tokenWords = checkedLength("tokens", tokens, "Uint32Array");
  const outWords = checkedLength("out", out, "Uint32Array");
  if (blocks === 0) return true;
  if (blocks * blockSize > tokenWords)
    outOfBounds("tokens", `tokens: ${blocks} blocks of ${blockSize} exceed its length ${tokenWords}`);
  if (outWords < 2 * blocks) outOfBounds("out", `out: needs ${2 * blocks} words, has ${outWords}`);
  let pe = null;
  let po = null;
  let peBytes = 0;
  let poBytes = 0;
  if (offsets !== null) {
    const offsetCount = checkedLength("offsets", offsets, "Uint32Array");
    if (offsetCount < blocks + 1)
      outOfBounds("offsets", `offsets: needs ${blocks + 1} entries, has ${offsetCount}`);
    const m = extra === null ? 0 : checkedLength("extra", extra, "Uint32Array");
    let prev = 0;
    for (let i = 0; i <= blocks; i++) {
      const o = offsets[i]!;
      if (o < prev || o > m)
        outOfBounds("offsets", `offsets[${i}] = ${o} is out of order or beyond extra's length ${m}`);
      prev = o;
    }
    po = typedPtr("offsets", offsets, "Uint32Array", 0, blocks + 1);
    poBytes = lastCapacity();
    if (m > 0) {
      pe = typedPtr("extra", extra!, "Uint32Array", 0, m);
      peBytes = lastCapacity();
    }
  }
  const rc = lib.llmem_hash64_chain_checked(
    typedPtr("tokens", tokens, "Uint32Array", 0, blocks * blockSize),
    lastCapacity(),
    blockSize,
    blocks,
    pe,
    peBytes,
    po,
    poBytes,
    parent,
    typedPtr("out", out, "Uint32Array", 0, 2 * blocks),
    lastCapacity(),
  );
  if (rc !== 0) throwRefusal(rc, "llmem_hash64_chain", "INVALID_ARGUMENT");
  return true;
}

/** LH64 of one message (tokens ++ extra) chained to parent, or null when native is off. */
export function nativeHash64(tokens: Uint32Array, extra: Uint32Array | null, parent: bigint): bigint | null {
  const lib = loaded();
  if (lib === null) return null;
  checkParent(parent);
  // The engine's lengths: an own `length` must not make the hash cover words that are not there,
  // and a detached view must be refused, not hashed as empty.
  const n = checkedLength("tokens", tokens, "Uint32Array");
  const m = extra === null ? 0 : checkedLength("extra", extra, "Uint32Array");
  const pt = n === 0 ? null : typedPtr("tokens", tokens, "Uint32Array", 0, n);
  const ptBytes = n === 0 ? 0 : lastCapacity();
  const pe = m === 0 ? null : typedPtr("extra", extra!, "Uint32Array", 0, m);
  const peBytes = m === 0 ? 0 : lastCapacity();
  const h = lib.llmem_hash64_checked(pt, ptBytes, n, pe, peBytes, m, parent);
  if (h === 0n) checkLastError(lib.llmem_last_error, "llmem_hash64");
  return BigInt.asUintN(64, BigInt(h));
}
