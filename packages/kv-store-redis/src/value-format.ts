/**
 * The bytes of one stored block: a 64-byte header, then the payload (the block's KV bytes,
 * opaque to this package). The header carries everything a reader must check before it
 * trusts the payload — layout, the key it was written under, the tokens it was computed
 * for, its length and a checksum — because Redis hands back whatever is stored under a key:
 * a value damaged in transit or by hand, or written by another build, must become a miss.
 *
 * | offset | bytes | field |
 * | 0  | 4  | magic "LKVB" |
 * | 4  | 2  | format version (1), u16 LE |
 * | 6  | 2  | header length (64), u16 LE |
 * | 8  | 2  | layers, u16 LE |
 * | 10 | 2  | KV heads, u16 LE |
 * | 12 | 2  | head dim, u16 LE |
 * | 14 | 2  | block size (tokens), u16 LE |
 * | 16 | 16 | KV format, ASCII, zero-padded |
 * | 32 | 8  | key check: xxHash64 of the key's UTF-8 bytes, u64 LE |
 * | 40 | 8  | token fingerprint: xxHash64 of the block's token ids as u32 LE, u64 LE |
 * | 48 | 4  | payload length, u32 LE |
 * | 52 | 4  | reserved, zero |
 * | 56 | 8  | checksum: xxHash64(payload, seed = xxHash64(bytes 0–55)), u64 LE |
 */
import { checkInt, checkSize, type Format, LlmemError, sealedChecksum } from "@llmem/core";

export const MAGIC = 0x42564b4c; // "LKVB" read as u32 LE
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 64;
/** Redis's default proto-max-bulk-len is 512 MiB; one value holds header and payload. */
export const MAX_PAYLOAD_BYTES = 512 * 1024 * 1024 - HEADER_BYTES;
const LAYOUT_BYTES = 32; // magic through KV format: identical in every value of one store
const SUMMED_HEADER_BYTES = 56;
const U16 = 65535;

/** The shape of one block's KV: what the payload bytes mean. */
export interface BlockLayout {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly kvFormat: Format;
  readonly blockSize: number;
}

/** Why a stored value was refused; `ok` when every check passed. */
export type Verdict = "ok" | "not-a-block" | "layout" | "key" | "tokens" | "length" | "checksum";

/** Shared with the other stored formats (KV files): see @llmem/core. */
export { tokenFingerprint } from "@llmem/core";

/** Encodes and checks the values of one store: the 32 layout bytes are built once. */
export class BlockCodec {
  readonly #layout: Uint8Array;

  constructor(layout: BlockLayout) {
    const head = new Uint8Array(LAYOUT_BYTES);
    const view = new DataView(head.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint16(4, FORMAT_VERSION, true);
    view.setUint16(6, HEADER_BYTES, true);
    view.setUint16(8, checkInt("numLayers", layout.numLayers, 1, U16), true);
    view.setUint16(10, checkInt("numKvHeads", layout.numKvHeads, 1, U16), true);
    view.setUint16(12, checkInt("headDim", layout.headDim, 1, U16), true);
    view.setUint16(14, checkInt("blockSize", layout.blockSize, 1, U16), true);
    const format = new TextEncoder().encode(String(layout.kvFormat));
    if (format.length === 0 || format.length > 16) {
      throw new LlmemError("INVALID_ARGUMENT", `kvFormat must be 1 to 16 ASCII bytes, got ${format.length}`, {
        argument: "kvFormat",
        value: layout.kvFormat,
      });
    }
    head.set(format, 16);
    this.#layout = head;
  }

  /**
   * Header + a copy of `payload`, in one buffer (Redis takes one value per key): `into` when it
   * is given and has exactly the right length (a recycled value), else a new one.
   */
  encode(key: string, tokenFp: bigint, payload: Uint8Array, into?: Uint8Array): Uint8Array {
    checkSize("payload length", payload.length, MAX_PAYLOAD_BYTES);
    const size = HEADER_BYTES + payload.length;
    const out = into?.length === size ? into : new Uint8Array(size);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    out.set(this.#layout, 0);
    view.setBigUint64(32, Bun.hash.xxHash64(key), true);
    view.setBigUint64(40, BigInt.asUintN(64, tokenFp), true);
    view.setUint32(48, payload.length, true);
    view.setUint32(52, 0, true);
    out.set(payload, HEADER_BYTES);
    view.setBigUint64(56, checksum(out, payload.length), true);
    return out;
  }

  /**
   * Checks a value read under `key` for a block of tokens fingerprinted `tokenFp`. Cheap checks
   * first: the checksum, which reads every payload byte, only runs once the header matches.
   */
  verify(value: Uint8Array, key: string, tokenFp: bigint): Verdict {
    if (value.length < HEADER_BYTES)
      return value.length >= 4 && readMagic(value) === MAGIC ? "length" : "not-a-block";
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    if (view.getUint32(0, true) !== MAGIC || view.getUint16(4, true) !== FORMAT_VERSION) return "not-a-block";
    for (let i = 6; i < LAYOUT_BYTES; i++) if (value[i] !== this.#layout[i]) return "layout";
    if (view.getBigUint64(32, true) !== Bun.hash.xxHash64(key)) return "key";
    if (view.getBigUint64(40, true) !== BigInt.asUintN(64, tokenFp)) return "tokens";
    const length = view.getUint32(48, true);
    if (value.length !== HEADER_BYTES + length || view.getUint32(52, true) !== 0) return "length";
    return view.getBigUint64(56, true) === checksum(value, length) ? "ok" : "checksum";
  }
}

/** The payload of a value `verify` accepted: a view, no copy. */
export function payloadOf(value: Uint8Array): Uint8Array {
  return value.subarray(HEADER_BYTES);
}

function readMagic(value: Uint8Array): number {
  return (value[0]! | (value[1]! << 8) | (value[2]! << 16) | (value[3]! << 24)) >>> 0;
}

function checksum(value: Uint8Array, length: number): bigint {
  return sealedChecksum(
    value.subarray(0, SUMMED_HEADER_BYTES),
    value.subarray(HEADER_BYTES, HEADER_BYTES + length),
  );
}
