/**
 * TwoTierKvCache: one sequence, one layer. Recent tokens live in a high-precision tail
 * (f32/f16/bf16); older ones migrate, in batches, into a quantized store where keys and
 * values are quantized separately (per token, per head, 32-value blocks), or keys per
 * channel in groups of 32 tokens (KIVI) with `keyGrouping: "channel"`. Attention reads
 * both tiers in place through the attention building blocks; the store is never
 * dequantized into an f32 copy.
 *
 * Positions: store tokens have "virtual" indices [storeHead, storeEnd) that only grow
 * (until clear); a token's slot is its virtual index modulo the store capacity. In channel
 * mode storeEnd is always a multiple of 32 (migration writes whole groups) and the
 * capacity is too, so a key group never wraps; evicting from the front only advances
 * storeHead, leaving dead lanes in the first group that attention skips.
 */
import { Arena } from "@llmem/arena";
import { checkInt, checkOneOf, LlmemError } from "@llmem/core";
import { attentionScores, attentionWeightedSum, decodeRow, encodeRow, softmaxInPlace } from "./ops.ts";
import { encodeStoreRow } from "./refine.ts";
import {
  checkHeadDimFor,
  isBlockFormat,
  QK,
  rowBytes,
  STORE_PRECISIONS,
  type StorePrecision,
  TAIL_PRECISIONS,
  type TailPrecision,
} from "./row-formats.ts";
import { type Segment, SegmentAttention } from "./segments.ts";
import { type AttendOptions, checkAttend, checkFloat32Array, checkKeysValues } from "./validate.ts";

export type KeyGrouping = "token" | "channel";

export interface TwoTierKvCacheOptions {
  numKvHeads: number;
  headDim: number;
  /** Tokens kept at tail precision; when the tail grows past this, its oldest tokens migrate. */
  tailLength: number;
  /** Default "f32". */
  tailPrecision?: TailPrecision;
  /** Default "q8_0". */
  storePrecision?: StorePrecision;
  /** Cached tokens at most; beyond it the oldest are evicted. */
  maxTokens: number;
  /** Tokens moved per migration; at most tailLength + 1 (a multiple of 32 for channel keys). Default min(32, tailLength + 1), or 32 for channel keys. */
  migrationBatch?: number;
  /** "token" (default): keys per token per head like values; "channel": keys per channel in 32-token groups. */
  keyGrouping?: KeyGrouping;
}

/** What setPolicy may change; precisions and shapes are fixed at construction. */
export interface TwoTierPolicy {
  tailLength?: number;
  maxTokens?: number;
  migrationBatch?: number;
}

export interface TwoTierStats {
  tokens: number;
  tailTokens: number;
  storeTokens: number;
  /** Bytes holding tail tokens (keys + values). */
  tailBytes: number;
  /** Bytes holding store tokens (keys + values; whole key groups in channel mode). */
  storeBytes: number;
  /** What the cached tokens would take as f32 keys + values. */
  f32Bytes: number;
  /** f32Bytes / (tailBytes + storeBytes): how many times smaller than f32 (0 tokens: 1). */
  compressionRatio: number;
  /** storeBytes / (storeTokens as f32): the store's size against f32 (0 when empty). */
  storeBytesRatio: number;
  appendedTokens: number;
  migratedTokens: number;
  evictedTokens: number;
}

export interface KvPair {
  keys: Float32Array;
  values: Float32Array;
}

interface Config {
  tailLength: number;
  maxTokens: number;
  migrationBatch: number;
}

export class TwoTierKvCache {
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly tailPrecision: TailPrecision;
  readonly storePrecision: StorePrecision;
  readonly keyGrouping: KeyGrouping;
  private cfg: Config;

  /** Floats per token for keys (or values): numKvHeads*headDim. */
  private readonly tokenFloats: number;
  private readonly tailRowBytes: number;
  private readonly tailHeadBytes: number;
  private readonly storeRowBytes: number;
  private readonly storeHeadBytes: number;
  /** Channel mode: bytes of one block (32 tokens of one channel) and of one 32-token group. */
  private readonly blockBytes: number;
  private readonly groupBytes: number;

  private tailK!: Uint8Array;
  private tailV!: Uint8Array;
  private tailCap = 0;
  private tailStart = 0;
  private tailCount = 0;

  private storeK!: Uint8Array;
  private storeV!: Uint8Array;
  private storeCap = 0;
  private storeHead = 0;
  private storeEnd = 0;

  private appended = 0;
  private migrated = 0;
  private evicted = 0;

  private scores = new Float32Array(1024);
  private readonly lanes = new Float32Array(QK);
  private readonly rowK: Float32Array;
  private readonly rowV: Float32Array;
  private readonly groupK: Float32Array;
  private readonly column = new Float32Array(QK);
  private readonly segments: SegmentAttention;

  constructor(o: TwoTierKvCacheOptions) {
    if (typeof o !== "object" || o === null) {
      throw new LlmemError("INVALID_ARGUMENT", "options must be an object", { argument: "options" });
    }
    this.numKvHeads = checkInt("numKvHeads", o.numKvHeads, 1, 4096);
    this.headDim = checkInt("headDim", o.headDim, 1, 65536);
    this.tailPrecision = checkOneOf("tailPrecision", o.tailPrecision ?? "f32", TAIL_PRECISIONS);
    this.storePrecision = checkOneOf("storePrecision", o.storePrecision ?? "q8_0", STORE_PRECISIONS);
    this.keyGrouping = checkOneOf("keyGrouping", o.keyGrouping ?? "token", ["token", "channel"] as const);
    checkHeadDimFor(this.storePrecision, this.headDim);
    if (this.keyGrouping === "channel" && !isBlockFormat(this.storePrecision)) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `keyGrouping "channel" needs a block storePrecision (q8_0, q4_0, q4_1), got ${this.storePrecision}`,
        { argument: "keyGrouping" },
      );
    }
    this.cfg = this.checkConfig({
      tailLength: o.tailLength,
      maxTokens: o.maxTokens,
      migrationBatch: o.migrationBatch,
    });

    this.tokenFloats = this.numKvHeads * this.headDim;
    this.tailHeadBytes = rowBytes(this.tailPrecision, this.headDim);
    this.tailRowBytes = this.numKvHeads * this.tailHeadBytes;
    this.storeHeadBytes = rowBytes(this.storePrecision, this.headDim);
    this.storeRowBytes = this.numKvHeads * this.storeHeadBytes;
    this.blockBytes = isBlockFormat(this.storePrecision) ? rowBytes(this.storePrecision, QK) : 0;
    this.groupBytes = this.tokenFloats * this.blockBytes;
    this.rowK = new Float32Array(this.tokenFloats);
    this.rowV = new Float32Array(this.tokenFloats);
    this.segments = new SegmentAttention(this.numKvHeads, this.headDim);
    this.groupK = new Float32Array(this.keyGrouping === "channel" ? QK * this.tokenFloats : 0);
    this.allocate(this.cfg);
  }

  private checkConfig(p: { tailLength: unknown; maxTokens: unknown; migrationBatch: unknown }): Config {
    const maxTokens = checkInt("maxTokens", p.maxTokens, 1, 2 ** 24);
    const tailLength = checkInt("tailLength", p.tailLength, 0, 2 ** 24);
    const channel = this.keyGrouping === "channel";
    const defaultBatch = channel ? QK : Math.min(QK, tailLength + 1);
    const migrationBatch = checkInt("migrationBatch", p.migrationBatch ?? defaultBatch, 1, tailLength + 1);
    if (channel && migrationBatch % QK !== 0) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `migrationBatch ${migrationBatch} must be a multiple of ${QK} with keyGrouping "channel" (keys move in 32-token groups)`,
        { argument: "migrationBatch", value: migrationBatch },
      );
    }
    return { tailLength, maxTokens, migrationBatch };
  }

  private storeCapacityFor(maxTokens: number): number {
    // Channel mode: room for the dead lanes of a partly evicted first group.
    return this.keyGrouping === "channel" ? Math.ceil(maxTokens / QK) * QK + QK : maxTokens;
  }

  private allocate(cfg: Config): void {
    this.tailCap = cfg.tailLength + 1;
    this.tailK = new Uint8Array(this.tailCap * this.tailRowBytes);
    this.tailV = new Uint8Array(this.tailK.length);
    this.storeCap = this.storeCapacityFor(cfg.maxTokens);
    this.storeV = new Uint8Array(this.storeCap * this.storeRowBytes);
    this.storeK =
      this.keyGrouping === "channel"
        ? new Uint8Array((this.storeCap / QK) * this.groupBytes)
        : new Uint8Array(this.storeV.length);
  }

  get tailLength(): number {
    return this.cfg.tailLength;
  }
  get maxTokens(): number {
    return this.cfg.maxTokens;
  }
  get migrationBatch(): number {
    return this.cfg.migrationBatch;
  }
  /** Cached tokens (both tiers). */
  get length(): number {
    return this.storeCount + this.tailCount;
  }
  private get storeCount(): number {
    return this.storeEnd - this.storeHead;
  }

  /**
   * Appends one or more tokens, [token][kvHead][headDim]. Input is checked in full first,
   * so a bad call appends nothing.
   */
  append(keys: Float32Array, values: Float32Array): void {
    const n = checkKeysValues(keys, values, this.tokenFloats, isBlockFormat(this.storePrecision));
    const tf = this.tokenFloats;
    for (let i = 0; i < n; i++) {
      const slot = (this.tailStart + this.tailCount) % this.tailCap;
      encodeRow(
        this.tailPrecision,
        keys.subarray(i * tf, (i + 1) * tf),
        tf,
        this.tailK,
        slot * this.tailRowBytes,
      );
      encodeRow(
        this.tailPrecision,
        values.subarray(i * tf, (i + 1) * tf),
        tf,
        this.tailV,
        slot * this.tailRowBytes,
      );
      this.tailCount++;
      this.appended++;
      // Evict before migrating: the store then never holds more than maxTokens.
      if (this.length > this.cfg.maxTokens) this.evictOldest(1);
      if (this.tailCount > this.cfg.tailLength) this.migrate(this.cfg.migrationBatch);
    }
  }

  private evictOldest(count: number): void {
    const fromStore = Math.min(count, this.storeCount);
    this.storeHead += fromStore;
    const fromTail = count - fromStore;
    this.tailStart = (this.tailStart + fromTail) % this.tailCap;
    this.tailCount -= fromTail;
    this.evicted += count;
    if (this.storeCount === 0) this.storeHead = this.storeEnd = 0;
  }

  /** Moves the `count` oldest tail tokens to the store (count ≤ tailCount, whole groups in channel mode). */
  private migrate(count: number): void {
    if (this.keyGrouping === "channel") {
      for (let g = 0; g < count; g += QK) this.migrateGroup();
    } else {
      for (let i = 0; i < count; i++) {
        this.takeTailToken(this.rowK, this.rowV);
        const slot = this.storeEnd % this.storeCap;
        encodeStoreRow(
          this.storePrecision,
          this.rowK,
          this.tokenFloats,
          this.storeK,
          slot * this.storeRowBytes,
        );
        encodeStoreRow(
          this.storePrecision,
          this.rowV,
          this.tokenFloats,
          this.storeV,
          slot * this.storeRowBytes,
        );
        this.storeEnd++;
      }
    }
    this.migrated += count;
  }

  /** Decodes the oldest tail token into k and v and drops it from the tail. */
  private takeTailToken(k: Float32Array, v: Float32Array): void {
    const at = this.tailStart * this.tailRowBytes;
    decodeRow(this.tailPrecision, this.tailK, at, this.tokenFloats, k);
    decodeRow(this.tailPrecision, this.tailV, at, this.tokenFloats, v);
    this.tailStart = (this.tailStart + 1) % this.tailCap;
    this.tailCount--;
  }

  private migrateGroup(): void {
    const tf = this.tokenFloats;
    const base = this.storeEnd % this.storeCap; // a multiple of 32
    for (let t = 0; t < QK; t++) {
      this.takeTailToken(this.groupK.subarray(t * tf, (t + 1) * tf), this.rowV);
      encodeStoreRow(this.storePrecision, this.rowV, tf, this.storeV, (base + t) * this.storeRowBytes);
    }
    const groupAt = (base / QK) * this.groupBytes;
    const col = this.column;
    for (let c = 0; c < tf; c++) {
      for (let t = 0; t < QK; t++) col[t] = this.groupK[t * tf + c]!;
      encodeStoreRow(this.storePrecision, col, QK, this.storeK, groupAt + c * this.blockBytes);
    }
    this.storeEnd += QK;
  }

  /** Softmax attention of `query` ([head][headDim]) over every cached token of both tiers. */
  attend(query: Float32Array, options: AttendOptions): Float32Array {
    const { numHeads, scale, out } = checkAttend(query, options, this.numKvHeads, this.headDim);
    const total = this.length;
    if (total === 0) return out;
    if (this.scores.length < total) this.scores = new Float32Array(Math.max(total, this.scores.length * 2));
    if (this.keyGrouping === "token") {
      this.segmentAttend(query, numHeads, scale, out);
      return out;
    }
    const scores = this.scores;
    const hd = this.headDim;
    const group = numHeads / this.numKvHeads;
    const nStore = this.storeCount;
    for (let h = 0; h < numHeads; h++) {
      const g = Math.floor(h / group);
      const q = query.subarray(h * hd, (h + 1) * hd);
      this.channelScores(q, g, scale, scores);
      this.forTailSegments((slot, count, at) => {
        attentionScores(
          this.tailPrecision,
          q,
          this.tailK,
          {
            count,
            headDim: hd,
            offsetBytes: slot * this.tailRowBytes + g * this.tailHeadBytes,
            strideBytes: this.tailRowBytes,
            scale,
          },
          scores,
          nStore + at,
        );
      });
      softmaxInPlace(scores, total);
      const o = out.subarray(h * hd, (h + 1) * hd);
      this.forStoreSegments((slot, count, at) => {
        attentionWeightedSum(
          this.storePrecision,
          scores,
          this.storeV,
          {
            count,
            headDim: hd,
            offsetBytes: slot * this.storeRowBytes + g * this.storeHeadBytes,
            strideBytes: this.storeRowBytes,
            weightsOffset: at,
          },
          o,
        );
      });
      this.forTailSegments((slot, count, at) => {
        attentionWeightedSum(
          this.tailPrecision,
          scores,
          this.tailV,
          {
            count,
            headDim: hd,
            offsetBytes: slot * this.tailRowBytes + g * this.tailHeadBytes,
            strideBytes: this.tailRowBytes,
            weightsOffset: nStore + at,
          },
          o,
        );
      });
    }
    return out;
  }

  /**
   * Token-grouped keys: every ring half of both tiers is a contiguous run of
   * [token][kvHead][row], so each goes through the paged kernel as one block (GQA fused,
   * quantized rows read in place) and the parts merge through their log-sum-exp.
   */
  private segmentAttend(query: Float32Array, numHeads: number, scale: number, out: Float32Array): void {
    const segs: Segment[] = [];
    const sr = this.storeRowBytes;
    const tr = this.tailRowBytes;
    this.forStoreSegments((slot, count) => {
      segs.push({
        format: this.storePrecision,
        keys: this.storeK.subarray(slot * sr, (slot + count) * sr),
        values: this.storeV.subarray(slot * sr, (slot + count) * sr),
        count,
      });
    });
    this.forTailSegments((slot, count) => {
      segs.push({
        format: this.tailPrecision,
        keys: this.tailK.subarray(slot * tr, (slot + count) * tr),
        values: this.tailV.subarray(slot * tr, (slot + count) * tr),
        count,
      });
    });
    this.segments.attend(segs, query, numHeads, scale, out);
  }

  /**
   * Scores against channel-grouped keys: per 32-token group, score[t] = Σ_c q[c]·K[c][t] is a
   * weighted sum of the group's channel blocks with the query as weights.
   */
  private channelScores(q: Float32Array, g: number, scale: number, scores: Float32Array): void {
    const lanes = this.lanes;
    const groupsInRing = this.storeCap / QK;
    for (let vg = Math.floor(this.storeHead / QK); vg * QK < this.storeEnd; vg++) {
      lanes.fill(0);
      attentionWeightedSum(
        this.storePrecision,
        q,
        this.storeK,
        {
          count: this.headDim,
          headDim: QK,
          offsetBytes: (vg % groupsInRing) * this.groupBytes + g * this.headDim * this.blockBytes,
          strideBytes: this.blockBytes,
        },
        lanes,
      );
      const first = Math.max(0, this.storeHead - vg * QK);
      for (let lane = first; lane < QK; lane++)
        scores[vg * QK + lane - this.storeHead] = scale * lanes[lane]!;
    }
  }

  /** Calls fn(slot, count, position) for the store's ring segments in token order. */
  private forStoreSegments(fn: (slot: number, count: number, at: number) => void): void {
    const n = this.storeCount;
    if (n === 0) return;
    const s0 = this.storeHead % this.storeCap;
    const first = Math.min(n, this.storeCap - s0);
    fn(s0, first, 0);
    if (first < n) fn(0, n - first, first);
  }

  private forTailSegments(fn: (slot: number, count: number, at: number) => void): void {
    const n = this.tailCount;
    if (n === 0) return;
    const first = Math.min(n, this.tailCap - this.tailStart);
    fn(this.tailStart, first, 0);
    if (first < n) fn(0, n - first, first);
  }

  /**
   * Every cached token dequantized, in token order: into the given buffers (each at least
   * length·numKvHeads·headDim floats), into views from an arena, or into new arrays.
   */
  getAll(outKeys?: Float32Array | Arena, outValues?: Float32Array): KvPair {
    const need = this.length * this.tokenFloats;
    let keys: Float32Array;
    let values: Float32Array;
    if (outKeys instanceof Arena) {
      keys = outKeys.alloc(Float32Array, need);
      values = outKeys.alloc(Float32Array, need);
    } else {
      keys = outKeys === undefined ? new Float32Array(need) : checkFloat32Array("outKeys", outKeys);
      values = outValues === undefined ? new Float32Array(need) : checkFloat32Array("outValues", outValues);
      for (const [name, a] of [
        ["outKeys", keys],
        ["outValues", values],
      ] as const) {
        if (a.length < need) {
          throw new LlmemError(
            "OUT_OF_BOUNDS",
            `${name} must hold at least ${need} floats, got ${a.length}`,
            {
              argument: name,
              length: a.length,
              expected: need,
            },
          );
        }
      }
    }
    const tf = this.tokenFloats;
    const nStore = this.storeCount;
    for (let i = 0; i < nStore; i++) {
      const slot = (this.storeHead + i) % this.storeCap;
      decodeRow(
        this.storePrecision,
        this.storeV,
        slot * this.storeRowBytes,
        tf,
        values.subarray(i * tf, (i + 1) * tf),
      );
      if (this.keyGrouping === "token") {
        decodeRow(
          this.storePrecision,
          this.storeK,
          slot * this.storeRowBytes,
          tf,
          keys.subarray(i * tf, (i + 1) * tf),
        );
      }
    }
    if (this.keyGrouping === "channel") this.decodeChannelKeys(keys);
    for (let i = 0; i < this.tailCount; i++) {
      const at = ((this.tailStart + i) % this.tailCap) * this.tailRowBytes;
      const o = (nStore + i) * tf;
      decodeRow(this.tailPrecision, this.tailK, at, tf, keys.subarray(o, o + tf));
      decodeRow(this.tailPrecision, this.tailV, at, tf, values.subarray(o, o + tf));
    }
    return { keys, values };
  }

  private decodeChannelKeys(keys: Float32Array): void {
    const tf = this.tokenFloats;
    const lanes = this.lanes;
    const groupsInRing = this.storeCap / QK;
    for (let vg = Math.floor(this.storeHead / QK); vg * QK < this.storeEnd; vg++) {
      const groupAt = (vg % groupsInRing) * this.groupBytes;
      const first = Math.max(0, this.storeHead - vg * QK);
      for (let c = 0; c < tf; c++) {
        decodeRow(this.storePrecision, this.storeK, groupAt + c * this.blockBytes, QK, lanes);
        for (let lane = first; lane < QK; lane++)
          keys[(vg * QK + lane - this.storeHead) * tf + c] = lanes[lane]!;
      }
    }
  }

  stats(): TwoTierStats {
    const f32Row = this.tokenFloats * 4 * 2;
    const tailBytes = this.tailCount * this.tailRowBytes * 2;
    const nStore = this.storeCount;
    let storeBytes = nStore * this.storeRowBytes;
    if (this.keyGrouping === "channel") {
      const groups = nStore === 0 ? 0 : this.storeEnd / QK - Math.floor(this.storeHead / QK);
      storeBytes += groups * this.groupBytes;
    } else storeBytes *= 2;
    const f32Bytes = this.length * f32Row;
    const used = tailBytes + storeBytes;
    return {
      tokens: this.length,
      tailTokens: this.tailCount,
      storeTokens: nStore,
      tailBytes,
      storeBytes,
      f32Bytes,
      compressionRatio: used === 0 ? 1 : f32Bytes / used,
      storeBytesRatio: nStore === 0 ? 0 : storeBytes / (nStore * f32Row),
      appendedTokens: this.appended,
      migratedTokens: this.migrated,
      evictedTokens: this.evicted,
    };
  }

  /** Forgets every token and resets the counters; buffers are kept for reuse. */
  clear(): void {
    this.tailStart = this.tailCount = 0;
    this.storeHead = this.storeEnd = 0;
    this.appended = this.migrated = this.evicted = 0;
  }

  /**
   * Changes tailLength, maxTokens and/or migrationBatch, keeping the cached tokens: a lower
   * maxTokens evicts the oldest, a shorter tail migrates at once. Checked in full first.
   */
  setPolicy(policy: TwoTierPolicy): void {
    if (typeof policy !== "object" || policy === null) {
      throw new LlmemError("INVALID_ARGUMENT", "policy must be an object", { argument: "policy" });
    }
    const tailLength = policy.tailLength ?? this.cfg.tailLength;
    const cfg = this.checkConfig({
      tailLength,
      maxTokens: policy.maxTokens ?? this.cfg.maxTokens,
      migrationBatch:
        policy.migrationBatch ??
        (this.cfg.migrationBatch <= tailLength + 1 ? this.cfg.migrationBatch : undefined),
    });
    if (this.length > cfg.maxTokens) this.evictOldest(this.length - cfg.maxTokens);
    // The new tail must fit its ring: migrate the excess now (whole groups for channel keys;
    // tailLength >= 31 there, so the tail holds a whole group whenever it is too long).
    const step = this.keyGrouping === "channel" ? QK : 1;
    while (this.tailCount > cfg.tailLength) this.migrate(step);
    this.relocate(cfg);
    this.cfg = cfg;
  }

  /** Moves every token into buffers sized for cfg (same bytes, normalised positions). */
  private relocate(cfg: Config): void {
    const old = {
      tailK: this.tailK,
      tailV: this.tailV,
      tailCap: this.tailCap,
      tailStart: this.tailStart,
      storeK: this.storeK,
      storeV: this.storeV,
      storeCap: this.storeCap,
      storeHead: this.storeHead,
      storeEnd: this.storeEnd,
    };
    this.allocate(cfg);
    const tr = this.tailRowBytes;
    for (let i = 0; i < this.tailCount; i++) {
      const from = ((old.tailStart + i) % old.tailCap) * tr;
      this.tailK.set(old.tailK.subarray(from, from + tr), i * tr);
      this.tailV.set(old.tailV.subarray(from, from + tr), i * tr);
    }
    this.tailStart = 0;
    const sr = this.storeRowBytes;
    const lead = this.keyGrouping === "channel" ? old.storeHead % QK : 0;
    const n = old.storeEnd - old.storeHead;
    for (let i = 0; i < n; i++) {
      const from = ((old.storeHead + i) % old.storeCap) * sr;
      const to = (lead + i) * sr;
      this.storeV.set(old.storeV.subarray(from, from + sr), to);
      if (this.keyGrouping === "token") this.storeK.set(old.storeK.subarray(from, from + sr), to);
    }
    if (this.keyGrouping === "channel") {
      const gb = this.groupBytes;
      const firstGroup = Math.floor(old.storeHead / QK);
      for (let vg = firstGroup, i = 0; vg * QK < old.storeEnd; vg++, i++) {
        const from = (vg % (old.storeCap / QK)) * gb;
        this.storeK.set(old.storeK.subarray(from, from + gb), i * gb);
      }
    }
    this.storeHead = n === 0 ? 0 : lead;
    this.storeEnd = n === 0 ? 0 : lead + n;
  }
}
