export type { ChainOptions } from "./block-keys.ts";
export {
  blockHash,
  blockHashFromWords,
  formatHash,
  type HashChainOptions,
  type HashList,
  hashChain,
  hashChainWords,
  hashWords,
} from "./chain.ts";
export {
  type BlockExtraKeys,
  encodeExtraKeys,
  KEY_TAGS,
  type KeyBytes,
  type MultimodalItem,
} from "./extra-keys.ts";
export { PrefixHasher } from "./hasher.ts";
export { type HashMode, ROOT_HASH } from "./mode.ts";
