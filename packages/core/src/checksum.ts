/**
 * The fingerprints and checksums that stored KV (files, Redis values) is verified with, in one
 * place so every format agrees on them: xxHash64 (Bun.hash), token ids read as u32 LE.
 */
import { checkInt } from "./validate.ts";

/**
 * A fingerprint of a block's token ids (u32 each): stored with the block and compared on every
 * hit, so a chain-hash collision can never hand back KV computed for other tokens.
 */
export function tokenFingerprint(tokens: Uint32Array | readonly number[]): bigint {
  let words: Uint32Array;
  if (tokens instanceof Uint32Array) {
    words = tokens;
  } else {
    words = new Uint32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      words[i] = checkInt(`tokens[${i}]`, tokens[i], 0, 0xffffffff);
    }
  }
  // Bun runs on little-endian hosts only (x86-64, arm64), so these bytes are the u32 LE words.
  return Bun.hash.xxHash64(new Uint8Array(words.buffer, words.byteOffset, words.byteLength));
}

/**
 * xxHash64(payload, seed = xxHash64(header)): a checksum that covers a record's header and its
 * payload. Two passes because Bun.hash has no streaming form; chaining through the seed still
 * covers every header byte and every payload byte.
 */
export function sealedChecksum(header: Uint8Array, payload: Uint8Array): bigint {
  return Bun.hash.xxHash64(payload, Bun.hash.xxHash64(header));
}
