/** Where reused KV came from: the tiers a prefix hit can be served by. */
export const KV_ORIGINS = Object.freeze(["device", "host", "file", "redis"] as const);
export type KvOrigin = (typeof KV_ORIGINS)[number];
/** Reused prompt tokens per tier they were served from. */
export type ReusedFrom = Record<KvOrigin, number>;

export const ORIGIN_CODE: Readonly<Record<KvOrigin, number>> = Object.freeze({
  device: 0,
  host: 1,
  file: 2,
  redis: 3,
});

export function noReuse(): ReusedFrom {
  return { device: 0, host: 0, file: 0, redis: 0 };
}
