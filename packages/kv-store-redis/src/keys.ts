/**
 * Redis keys of prefix blocks: `llmem:v1:{model fingerprint}:{kv format}:{block size}:{chain hash}`.
 * Everything that decides whether a block's bytes can be reused is in the key, so two models,
 * formats or block sizes never share an entry; the tenant salt is already inside the chain hash.
 */
import { checkInt, checkOneOf, describeValue, FORMATS, type Format, LlmemError } from "@llmem/core";

export const KEY_PREFIX = "llmem:v1";

/** The hash widths `@llmem/prefix-hash` produces: 64-bit `fast` and 256-bit `secure` chains. */
export type HashBits = 64 | 256;

/** What every key of one store shares: one model, one KV format, one block size. */
export interface KeySpace {
  /** Hex digits naming the model (its tensor shapes and types, hashed by the caller); 8–64 of them. */
  readonly modelFingerprint: string;
  /** The element type of the KV bytes (`f16`, `q8_0`, …). */
  readonly kvFormat: Format;
  /** Tokens per block. */
  readonly blockSize: number;
  /** 64 (the default) or 256: the width of the chain hashes, so keys have a fixed length. */
  readonly hashBits?: HashBits;
}

export const MAX_BLOCK_SIZE = 65535; // the value header stores it in 16 bits
const FINGERPRINT = /^[0-9a-f]{8,64}$/;

/** Validates a key space once, so the per-block key builder only formats the hash. */
export function checkKeySpace(space: KeySpace): Required<KeySpace> {
  if (typeof space.modelFingerprint !== "string" || !FINGERPRINT.test(space.modelFingerprint)) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `modelFingerprint must be 8 to 64 lowercase hex digits, got ${JSON.stringify(space.modelFingerprint)}`,
      { argument: "modelFingerprint", value: space.modelFingerprint },
    );
  }
  const kvFormat = checkOneOf("kvFormat", space.kvFormat, Object.keys(FORMATS) as Format[]);
  const blockSize = checkInt("blockSize", space.blockSize, 1, MAX_BLOCK_SIZE);
  const hashBits = space.hashBits ?? 64;
  if (hashBits !== 64 && hashBits !== 256) {
    throw new LlmemError("INVALID_ARGUMENT", `hashBits must be 64 or 256, got ${describeValue(hashBits)}`, {
      argument: "hashBits",
      value: hashBits,
    });
  }
  return { modelFingerprint: space.modelFingerprint, kvFormat, blockSize, hashBits };
}

/** Builds the keys of one key space; `key(hash)` checks the hash fits the width. */
export class KeyBuilder {
  readonly prefix: string;
  readonly hashBits: HashBits;
  readonly #digits: number;
  readonly #limit: bigint;

  constructor(space: KeySpace) {
    const s = checkKeySpace(space);
    this.prefix = `${KEY_PREFIX}:${s.modelFingerprint}:${s.kvFormat}:${s.blockSize}:`;
    this.hashBits = s.hashBits;
    this.#digits = s.hashBits / 4;
    this.#limit = 1n << BigInt(s.hashBits);
  }

  /** The key of the block whose chain hash is `hash` (fixed-width lowercase hex). */
  key(hash: bigint, argument = "hash"): string {
    if (typeof hash !== "bigint" || hash < 0n || hash >= this.#limit) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `${argument} must be a bigint in [0, 2^${this.hashBits}), got ${typeof hash === "bigint" ? `${hash}n` : typeof hash}`,
        { argument, value: hash },
      );
    }
    return this.prefix + hash.toString(16).padStart(this.#digits, "0");
  }
}
