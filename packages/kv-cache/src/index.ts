export { type HostBlock, HostTier, type HostTierOptions, type HostTierStats } from "./host-tier.ts";
export { KV_ORIGINS, type KvOrigin, type ReusedFrom } from "./origins.ts";
export {
  type AdmitOptions,
  type KeyGrouping,
  PagedKvCache,
  type PagedKvCacheOptions,
  PagedSequence,
  type PagedStats,
  type PagedTiers,
} from "./paged.ts";
export { type PagedAttentionArgs, pagedAttention } from "./paged-kernel.ts";
export { type MetalAttentionOptions, metalAvailable, pagedAttentionMetal } from "./paged-metal.ts";
export { FILE_VERSION } from "./persist/format.ts";
export {
  type KvFileOptions,
  kvFileBlockCount,
  type RestoreOptions,
  type RestoreResult,
  readKvFile,
  restoreKvFile,
  type SaveOptions,
  type SaveResult,
  saveKvFile,
} from "./persist/kv-file.ts";
export {
  type ModelFingerprint,
  modelFingerprint,
  type TensorDescription,
} from "./persist/model-fingerprint.ts";
export { RemoteTier, type RemoteTierStats, type SharedBlockStore } from "./remote-tier.ts";
export type { RowFormat } from "./row-formats.ts";
