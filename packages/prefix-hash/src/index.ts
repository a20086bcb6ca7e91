export {
  blockHash,
  type ChainOptions,
  type HashMode,
  hashChain,
  hashChainWords,
  hashWords,
  ROOT_HASH,
} from "./chain.ts";
export {
  type BlockExtraKeys,
  encodeExtraKeys,
  KEY_TAGS,
  type KeyBytes,
  type MultimodalItem,
} from "./extra-keys.ts";
export { PrefixHasher } from "./hasher.ts";
export {
  type MatchOptions,
  matchPrefix,
  type PrefixMatch,
  type RegisterOptions,
  registerPrefix,
} from "./match.ts";
