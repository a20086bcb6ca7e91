/**
 * The `secure` mode: SHA-256 over a fixed byte encoding, for servers where cached prefixes are
 * private per tenant (a 64-bit non-cryptographic hash lets an attacker search for collisions).
 *
 * Block message: "LLMEMPH1" (8 ASCII bytes) ‖ parent (32 bytes, big-endian; the root is 32 zero
 * bytes) ‖ token count (u32 LE) ‖ each token id (u32 LE) ‖ each extra-key word (u32 LE).
 * The hash is the 256-bit digest read as a big-endian unsigned integer.
 */
import { LlmemError } from "@llmem/core";
import { LITTLE_ENDIAN } from "./endian.ts";

const MAGIC = new TextEncoder().encode("LLMEMPH1");
const PARENT_AT = MAGIC.length;
const COUNT_AT = PARENT_AT + 32;
const HEADER = COUNT_AT + 4; // 44: the words that follow are 4-byte aligned

export const SECURE_MAX = (1n << 256n) - 1n;

/** A reusable message buffer: one block is hashed at a time; its digest is copied into the parent slot. */
class Message {
  bytes = new Uint8Array(HEADER + 64);
  view = new DataView(this.bytes.buffer);
  words = new Uint32Array(this.bytes.buffer, HEADER);

  constructor() {
    this.bytes.set(MAGIC, 0);
  }

  fit(words: number): void {
    if (this.bytes.length >= HEADER + 4 * words) return;
    const bigger = new Uint8Array(HEADER + 8 * words);
    bigger.set(this.bytes.subarray(0, HEADER));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
    this.words = new Uint32Array(bigger.buffer, HEADER);
  }
}

const message = new Message();
const digest = new Uint8Array(32);

export function parentToBytes(parent: bigint, out: Uint8Array, at: number): void {
  let p = parent;
  for (let i = 31; i >= 0; i--) {
    out[at + i] = Number(p & 0xffn);
    p >>= 8n;
  }
}

/** The digest in the message's parent slot as a bigint. */
function parentSlotToBigint(view: DataView): bigint {
  return (
    (view.getBigUint64(PARENT_AT) << 192n) |
    (view.getBigUint64(PARENT_AT + 8) << 128n) |
    (view.getBigUint64(PARENT_AT + 16) << 64n) |
    view.getBigUint64(PARENT_AT + 24)
  );
}

/**
 * Secure hashes of `blocks` consecutive blocks of `blockSize` tokens from `tokens[at]`, chained
 * from `parent`; block i's extra-key words come from `extraFor(i)`.
 */
export function secureChain(
  parent: bigint,
  tokens: Uint32Array,
  at: number,
  blockSize: number,
  blocks: number,
  extraFor: (i: number) => Uint32Array | null,
): bigint[] {
  const m = message;
  if (parent < 0n || parent > SECURE_MAX)
    throw new LlmemError("INVALID_ARGUMENT", "secure parent out of range");
  parentToBytes(parent, m.bytes, PARENT_AT);
  const out = new Array<bigint>(blocks);
  for (let i = 0; i < blocks; i++) {
    const extra = extraFor(i);
    const e = extra === null ? 0 : extra.length;
    m.fit(blockSize + e);
    const { bytes, view, words } = m;
    view.setUint32(COUNT_AT, blockSize, true);
    const from = at + i * blockSize;
    if (LITTLE_ENDIAN) {
      words.set(tokens.subarray(from, from + blockSize));
      if (extra !== null) words.set(extra, blockSize);
    } else {
      for (let k = 0; k < blockSize; k++) view.setUint32(HEADER + 4 * k, tokens[from + k]!, true);
      for (let k = 0; k < e; k++) view.setUint32(HEADER + 4 * (blockSize + k), extra![k]!, true);
    }
    Bun.SHA256.hash(bytes.subarray(0, HEADER + 4 * (blockSize + e)), digest);
    bytes.set(digest, PARENT_AT); // the next block's parent
    out[i] = parentSlotToBigint(view);
  }
  return out;
}
