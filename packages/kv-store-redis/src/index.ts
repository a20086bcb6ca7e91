export { type HashBits, KEY_PREFIX, KeyBuilder, type KeySpace } from "./keys.ts";
export { type KvStoreStats, LONGEST_PREFIX_LUA, RedisKvStore, type RedisKvStoreOptions } from "./store.ts";
export {
  BlockCodec,
  type BlockLayout,
  FORMAT_VERSION,
  HEADER_BYTES,
  MAGIC,
  MAX_PAYLOAD_BYTES,
  tokenFingerprint,
  type Verdict,
} from "./value-format.ts";
