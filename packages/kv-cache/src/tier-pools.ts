/**
 * The bytes of a PagedKvCache: per tier (recent, and the optional store) and per layer, one K
 * and one V pool of whole blocks [block][blockSize tokens][kvHead][headDim] in bucket-pool
 * memory. Store keys may instead be grouped per channel: per 32-token group of a block, one
 * quantized row of 32 values per channel ([group][kvHead][headDim][32 tokens]); a block takes
 * the same bytes either way. Block ids come from the cache's allocators; this module only
 * encodes, copies, moves and decodes rows.
 */
import { BucketPool, type PooledBuffer } from "@llmem/bucket-pool";
import { LlmemError } from "@llmem/core";
import { decodeRow, encodeRow } from "./ops.ts";
import { encodeStoreRow } from "./q4-search.ts";
import { QK, type RowFormat, rowBytes } from "./row-formats.ts";

/** One tier's storage: a row format and, per layer, K and V pools of whole blocks. */
export interface Tier {
  readonly format: RowFormat;
  /** Bytes of one token's K (or V) rows, all heads. */
  readonly tokenBytes: number;
  readonly blockBytes: number;
  readonly k: Uint8Array[];
  readonly v: Uint8Array[];
}

export interface TierShape {
  numLayers: number;
  blockSize: number;
  /** numKvHeads · headDim */
  tokenFloats: number;
}

export interface TierSpec {
  format: RowFormat;
  numBlocks: number;
  /** The option that sized it, for the error message. */
  name: string;
}

export class TierPools {
  readonly recent: Tier;
  readonly store: Tier | null;
  /** Store keys per channel over 32-token groups. */
  readonly channelKeys: boolean;
  private readonly shape: TierShape;
  private readonly pool: BucketPool;
  private readonly ownsPool: boolean;
  private readonly buffers: PooledBuffer[] = [];
  /** Migration scratch: one block's keys, [token][kvHead][headDim]. */
  private readonly blockK: Float32Array;
  private readonly row: Float32Array;

  /** Checks every pool's size, then takes the memory (all or nothing). */
  constructor(
    shape: TierShape,
    recent: TierSpec,
    store: (TierSpec & { channelKeys: boolean }) | null,
    pool: BucketPool | undefined,
  ) {
    this.shape = shape;
    const recentBytes = poolBytes(shape, recent);
    const storeBytes = store ? poolBytes(shape, store) : 0;
    this.recent = this.tier(recent.format);
    this.store = store ? this.tier(store.format) : null;
    this.channelKeys = store?.channelKeys ?? false;
    this.ownsPool = pool === undefined;
    this.pool = pool ?? new BucketPool();
    try {
      for (let l = 0; l < shape.numLayers; l++) {
        for (const [t, bytes] of [
          [this.recent, recentBytes],
          [this.store, storeBytes],
        ] as const) {
          if (!t) continue;
          for (const list of [t.k, t.v]) {
            const buf = this.pool.alloc(bytes);
            this.buffers.push(buf);
            list.push(buf.bytes());
          }
        }
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.blockK = new Float32Array(shape.blockSize * shape.tokenFloats);
    this.row = new Float32Array(Math.max(shape.tokenFloats, QK));
  }

  private tier(format: RowFormat): Tier {
    const tokenBytes = rowBytes(format, this.shape.tokenFloats);
    return { format, tokenBytes, blockBytes: this.shape.blockSize * tokenBytes, k: [], v: [] };
  }

  /** Encodes `n` tokens of k and v (validated) into `layer` of the recent tier at positions first… of `blocks`. */
  writeRecent(
    layer: number,
    blocks: Uint32Array,
    first: number,
    n: number,
    k: Float32Array,
    v: Float32Array,
  ): void {
    const bs = this.shape.blockSize;
    const tf = this.shape.tokenFloats;
    const { k: kPools, v: vPools, tokenBytes, format } = this.recent;
    const searched = format === "q4_0" || format === "q4_1";
    const encode = searched ? encodeStoreRow : encodeRow;
    // A prefill chunk's tokens that share a block sit side by side in the pool, and encoding
    // f32/f16/bf16/q8_0 rows is per value or per 32-value block (tf is a multiple of 32 for
    // q8_0): one call per run of tokens, the same bytes as one call per token (a chunk of 128
    // made 256 calls per layer). The 4-bit encoders keep one call per token.
    for (let i = 0; i < n; ) {
      const pos = first + i;
      const len = searched ? 1 : Math.min(n - i, bs - (pos % bs));
      const at = (blocks[Math.floor(pos / bs)]! * bs + (pos % bs)) * tokenBytes;
      encode(format, k.subarray(i * tf, (i + len) * tf), len * tf, kPools[layer]!, at);
      encode(format, v.subarray(i * tf, (i + len) * tf), len * tf, vPools[layer]!, at);
      i += len;
    }
  }

  /** Copies recent block `src` into `dst` in every layer (copy on write). */
  copyRecent(src: number, dst: number): void {
    const bb = this.recent.blockBytes;
    for (let l = 0; l < this.shape.numLayers; l++) {
      this.recent.k[l]!.copyWithin(dst * bb, src * bb, (src + 1) * bb);
      this.recent.v[l]!.copyWithin(dst * bb, src * bb, (src + 1) * bb);
    }
  }

  /** Re-encodes recent block `src` as store block `dst`, every layer. */
  moveToStore(src: number, dst: number): void {
    const store = this.store!;
    const { blockSize: bs, tokenFloats: tf } = this.shape;
    for (let l = 0; l < this.shape.numLayers; l++) {
      for (let t = 0; t < bs; t++) {
        const from = (src * bs + t) * this.recent.tokenBytes;
        const to = (dst * bs + t) * store.tokenBytes;
        const key = this.blockK.subarray(t * tf, (t + 1) * tf);
        decodeRow(this.recent.format, this.recent.k[l]!, from, tf, key);
        decodeRow(this.recent.format, this.recent.v[l]!, from, tf, this.row);
        encodeStoreRow(store.format, this.row, tf, store.v[l]!, to);
        if (!this.channelKeys) encodeStoreRow(store.format, key, tf, store.k[l]!, to);
      }
      if (this.channelKeys) this.encodeChannelKeys(store.k[l]!, dst);
    }
  }

  /** Per 32-token group of block `dst`, channel c's 32 keys (from blockK) as one quantized row. */
  private encodeChannelKeys(keys: Uint8Array, dst: number): void {
    const store = this.store!;
    const tf = this.shape.tokenFloats;
    const row = rowBytes(store.format, QK);
    const col = this.row.subarray(0, QK);
    for (let g = 0; g < this.shape.blockSize / QK; g++) {
      const at = dst * store.blockBytes + g * tf * row;
      for (let c = 0; c < tf; c++) {
        for (let t = 0; t < QK; t++) col[t] = this.blockK[(g * QK + t) * tf + c]!;
        encodeStoreRow(store.format, col, QK, keys, at + c * row);
      }
    }
  }

  /**
   * K and V of `layer` decoded to f32 in token order: `stored` tokens from `storeBlocks`, then
   * `n − stored` from `recentBlocks`.
   */
  read(
    layer: number,
    n: number,
    stored: number,
    storeBlocks: Uint32Array | null,
    recentBlocks: Uint32Array,
  ): { keys: Float32Array; values: Float32Array } {
    const { blockSize: bs, tokenFloats: tf } = this.shape;
    const keys = new Float32Array(n * tf);
    const values = new Float32Array(n * tf);
    for (let pos = 0; pos < n; pos++) {
      const inStore = pos < stored;
      const t = inStore ? this.store! : this.recent;
      const blocks = inStore ? storeBlocks! : recentBlocks;
      const p = inStore ? pos : pos - stored;
      const at = (blocks[Math.floor(p / bs)]! * bs + (p % bs)) * t.tokenBytes;
      if (!inStore || !this.channelKeys)
        decodeRow(t.format, t.k[layer]!, at, tf, keys.subarray(pos * tf, (pos + 1) * tf));
      decodeRow(t.format, t.v[layer]!, at, tf, values.subarray(pos * tf, (pos + 1) * tf));
    }
    if (this.channelKeys && stored > 0) {
      const store = this.store!;
      const row = rowBytes(store.format, QK);
      const lanes = new Float32Array(QK);
      for (let i = 0; i < stored / bs; i++) {
        for (let g = 0; g < bs / QK; g++) {
          const at = storeBlocks![i]! * store.blockBytes + g * tf * row;
          for (let c = 0; c < tf; c++) {
            decodeRow(store.format, store.k[layer]!, at + c * row, QK, lanes);
            for (let t = 0; t < QK; t++) keys[(i * bs + g * QK + t) * tf + c] = lanes[t]!;
          }
        }
      }
    }
    return { keys, values };
  }

  /** Gives the memory back (to the BucketPool given, or frees the private one). */
  dispose(): void {
    for (const b of this.buffers) if (b.alive) this.pool.release(b);
    this.buffers.length = 0;
    for (const t of [this.recent, this.store]) {
      if (!t) continue;
      t.k.length = 0;
      t.v.length = 0;
    }
    if (this.ownsPool) this.pool.dispose();
  }
}

/** Bytes of one layer pool of `spec`, checked against the 4 GiB a pool may hold. */
function poolBytes(shape: TierShape, spec: TierSpec): number {
  const bytes = spec.numBlocks * shape.blockSize * rowBytes(spec.format, shape.tokenFloats);
  if (bytes > 2 ** 32) {
    throw new LlmemError(
      "OUT_OF_RANGE",
      `one layer pool of ${spec.name}*blockSize*numKvHeads*row = ${bytes} bytes exceeds 4 GiB`,
      { argument: spec.name, bytes },
    );
  }
  return bytes;
}
