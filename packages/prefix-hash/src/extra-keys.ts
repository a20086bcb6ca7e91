/**
 * Extra keys: what besides the token ids decides a block's KV content. Each key is encoded as
 * [tag, byteLength, bytes packed little-endian into u32 words, zero-padded], so keys of different
 * kinds or lengths can never run into each other (a LoRA named "x" ≠ a salt "x").
 */
import { describeValue, isDetachedView, LlmemError, typedArrayKind } from "@llmem/core";

export const KEY_TAGS = Object.freeze({ lora: 1, multimodal: 2, salt: 3, custom: 4 } as const);

export type KeyBytes = string | Uint8Array;

/** Keys of one block (blockHash). */
export interface BlockExtraKeys {
  /** LoRA adapter id; a number is encoded as its decimal string. */
  lora?: string | number;
  /** Content hashes of multimodal items whose placeholder tokens overlap the block. */
  multimodal?: readonly KeyBytes[];
  /** Per-tenant cache salt; by convention only on a sequence's first block. */
  salt?: KeyBytes;
  /** Anything else that changes the KV (e.g. a model revision), in a fixed order. */
  custom?: readonly KeyBytes[];
}

/** A multimodal item: its content hash and the token range its placeholders occupy. */
export interface MultimodalItem {
  hash: KeyBytes;
  offset: number;
  length: number;
}

const utf8 = new TextEncoder();

/**
 * A key's bytes: a string's UTF-8, or a copy of a live Uint8Array made through the engine (not
 * `instanceof` and `.length`: a detached array hashed as an empty key, and a subclass could
 * claim a length it does not have). A copy, so a key edited after it was given changes nothing.
 */
export function keyBytes(name: string, key: unknown): Uint8Array {
  if (typeof key === "string") return utf8.encode(key);
  if (typedArrayKind(key) === "Uint8Array" && !isDetachedView(key as Uint8Array)) {
    return new Uint8Array(key as Uint8Array);
  }
  throw new LlmemError(
    "INVALID_ARGUMENT",
    `${name} must be a string or a live Uint8Array, got ${describeValue(key)}`,
    { argument: name },
  );
}

export function loraBytes(lora: unknown): Uint8Array {
  if (typeof lora === "number") {
    if (!Number.isSafeInteger(lora) || lora < 0) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `lora must be a non-negative integer or a string, got ${describeValue(lora)}`,
        {
          argument: "lora",
        },
      );
    }
    return utf8.encode(String(lora));
  }
  return keyBytes("lora", lora);
}

/** Appends one tagged, length-prefixed key to `out`. */
function pushKey(out: number[], tag: number, bytes: Uint8Array): void {
  out.push(tag, bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    out.push(
      (bytes[i]! | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)) >>>
        0,
    );
  }
}

/** The canonical words of a block's extra keys in tag order (lora, multimodal…, salt, custom…), or null. */
export function encodeExtraKeys(keys: BlockExtraKeys | undefined): Uint32Array | null {
  if (keys === undefined) return null;
  if (typeof keys !== "object" || keys === null) {
    throw new LlmemError("INVALID_ARGUMENT", "extraKeys must be an object", { argument: "extraKeys" });
  }
  const { lora, multimodal, salt, custom } = keys;
  const out: number[] = [];
  if (lora !== undefined) pushKey(out, KEY_TAGS.lora, loraBytes(lora));
  for (const [i, h] of keyList("multimodal", multimodal).entries()) {
    pushKey(out, KEY_TAGS.multimodal, keyBytes(`multimodal[${i}]`, h));
  }
  if (salt !== undefined) pushKey(out, KEY_TAGS.salt, keyBytes("salt", salt));
  for (const [i, c] of keyList("custom", custom).entries())
    pushKey(out, KEY_TAGS.custom, keyBytes(`custom[${i}]`, c));
  return out.length === 0 ? null : Uint32Array.from(out);
}

/** An optional list of keys as a real array (a copy): anything else is refused, not iterated. */
export function keyList<T>(name: string, list: readonly T[] | undefined): T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be an array, got ${describeValue(list)}`, {
      argument: name,
    });
  }
  const n = list.length;
  if (n > 1 << 16) {
    throw new LlmemError("OUT_OF_RANGE", `${name} must hold at most 65536 keys, got ${n}`, {
      argument: name,
    });
  }
  const copy = new Array<T>(n);
  for (let i = 0; i < n; i++) {
    if (!(i in list)) {
      throw new LlmemError("INVALID_ARGUMENT", `${name}[${i}] is a hole in a sparse array`, {
        argument: name,
      });
    }
    copy[i] = list[i]!;
  }
  return copy;
}
