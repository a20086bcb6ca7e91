/**
 * The `secure` mode: SHA-256 over a fixed byte encoding, for servers where cached prefixes are
 * private per tenant (a 64-bit non-cryptographic hash lets an attacker search for collisions).
 *
 * Block message: "LLMEMPH1" (8 ASCII bytes) ‖ parent (32 bytes, big-endian; the root is 32 zero
 * bytes) ‖ token count (u32 LE) ‖ each token id (u32 LE) ‖ each extra-key word (u32 LE).
 * The hash is the 256-bit digest read as a big-endian unsigned integer.
 */
import { LlmemError } from "@llmem/core";

const MAGIC = new TextEncoder().encode("LLMEMPH1");
const HEADER = MAGIC.length + 32 + 4;

let scratch = new Uint8Array(HEADER + 64);

export const SECURE_MAX = (1n << 256n) - 1n;

export function parentToBytes(parent: bigint, out: Uint8Array, at: number): void {
  let p = parent;
  for (let i = 31; i >= 0; i--) {
    out[at + i] = Number(p & 0xffn);
    p >>= 8n;
  }
}

export function digestToBigint(d: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("hex")}`);
}

/** SHA-256 of one block; `parent` is the previous digest (32 bytes). Returns a fresh 32-byte digest. */
export function secureBlock(
  parent: Uint8Array,
  tokens: Uint32Array,
  at: number,
  count: number,
  extra: Uint32Array | null,
): Uint8Array {
  const m = extra === null ? 0 : extra.length;
  const size = HEADER + 4 * (count + m);
  if (scratch.length < size) scratch = new Uint8Array(size * 2);
  const msg = scratch;
  const view = new DataView(msg.buffer, 0, size);
  msg.set(MAGIC, 0);
  if (parent.length !== 32) throw new LlmemError("INVALID_ARGUMENT", "secure parent must be 32 bytes");
  msg.set(parent, MAGIC.length);
  view.setUint32(MAGIC.length + 32, count, true);
  let o = HEADER;
  for (let i = at; i < at + count; i++, o += 4) view.setUint32(o, tokens[i]!, true);
  for (let i = 0; i < m; i++, o += 4) view.setUint32(o, extra![i]!, true);
  return new Uint8Array(Bun.CryptoHasher.hash("sha256", msg.subarray(0, size)) as Uint8Array);
}
