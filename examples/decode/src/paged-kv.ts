/**
 * Paged K/V for many sequences with prefix reuse: physical blocks of `blockSize` positions
 * come from @llmem/block-allocator (refcounts, soft-free cache, LRU eviction), each sequence
 * maps positions to blocks through a BlockTable, and full blocks are registered under their
 * @llmem/prefix-hash chain hash so a later prompt with the same prefix adopts them instead
 * of recomputing them. Storage per layer: [block][slot][kvDim] in f32 or f16.
 */
import { BlockAllocator, BlockTable } from "@llmem/block-allocator";
import { LlmemError } from "@llmem/core";
import { blockHash, hashChain } from "@llmem/prefix-hash";
import { headSize, kvDim, type ModelConfig } from "./config.ts";
import type { KvSequence } from "./kv.ts";
import { softmax } from "./math.ts";
import type { KvProvider } from "./scheduler.ts";
import type { Sequence } from "./sequence.ts";

export type PagedFormat = "f32" | "f16";

export interface PagedKvOptions {
  blockSize: number;
  numBlocks: number;
  format: PagedFormat;
}

type Store = Float32Array | Float16Array;

export class PagedKvPool implements KvProvider {
  readonly config: ModelConfig;
  readonly blockSize: number;
  readonly format: PagedFormat;
  readonly allocator: BlockAllocator;
  readonly maxBlocksPerSeq: number;
  /** Per layer: keys and values of every block. */
  readonly keys: Store[] = [];
  readonly values: Store[] = [];
  /** Prompt blocks found in the cache, and prompt positions they spared. */
  prefixHits = 0;
  reusedTokens = 0;
  private readonly kvDim: number;
  /** Blocks promised to live sequences but not yet allocated (admission control). */
  private promised = 0;
  private readonly live = new Set<PagedSequence>();

  constructor(config: ModelConfig, o: PagedKvOptions) {
    this.config = config;
    this.blockSize = o.blockSize;
    this.format = o.format;
    this.kvDim = kvDim(config);
    this.maxBlocksPerSeq = Math.ceil(config.seqLen / o.blockSize);
    this.allocator = new BlockAllocator(o.numBlocks);
    const Ctor = o.format === "f16" ? Float16Array : Float32Array;
    const floats = o.numBlocks * o.blockSize * this.kvDim;
    for (let l = 0; l < config.nLayers; l++) {
      this.keys.push(new Ctor(floats));
      this.values.push(new Ctor(floats));
    }
  }

  /** Bytes of the K/V block storage. */
  get bytes(): number {
    return this.keys.reduce((n, k) => n + k.byteLength * 2, 0);
  }

  open(prompt: readonly number[]): { kv: KvSequence; cached: number } | null {
    const needBlocks = this.maxBlocksPerSeq;
    if (this.allocator.freeCount - this.promised < needBlocks) {
      if (needBlocks > this.allocator.capacity) {
        throw new LlmemError(
          "CAPACITY_EXCEEDED",
          `one sequence needs ${needBlocks} KV blocks, the pool has ${this.allocator.capacity}`,
        );
      }
      return null;
    }
    const seq = new PagedSequence(this, prompt);
    const cached = seq.adoptPrefix(prompt);
    this.prefixHits += cached / this.blockSize;
    this.promised += needBlocks - seq.table.blockCount;
    seq.promised = needBlocks - seq.table.blockCount;
    this.live.add(seq);
    return { kv: seq, cached };
  }

  close(s: Sequence): void {
    const seq = s.kv as PagedSequence;
    this.promised -= seq.promised;
    seq.promised = 0;
    this.live.delete(seq);
    seq.release();
  }

  shouldWait(prompt: readonly number[]): boolean {
    const mine = hashChain(prompt.slice(0, prompt.length - 1), this.blockSize);
    for (const seq of this.live) {
      const theirs = seq.promptHashes;
      let shared = 0;
      while (shared < mine.length && shared < theirs.length && mine[shared] === theirs[shared]) shared++;
      if (shared > seq.registeredBlocks) return true;
    }
    return false;
  }

  /** Called by a sequence when it allocates a block it had been promised. */
  notePromiseUsed(seq: PagedSequence): void {
    if (seq.promised > 0) {
      seq.promised--;
      this.promised--;
    }
  }
}

export class PagedSequence implements KvSequence {
  readonly table: BlockTable;
  promised = 0;
  private readonly pool: PagedKvPool;
  /** Input token at each position (the prompt, then what the sequence feeds back). */
  private readonly inputs: number[];
  /** Chain hash of each full block, for registering and for the next block's parent. */
  private readonly hashes: bigint[] = [];
  /** Hashes of the prompt's full blocks (what later prompts may share). */
  readonly promptHashes: bigint[];
  private readonly kvd: number;
  private readonly hs: number;
  private readonly kvMul: number;

  constructor(pool: PagedKvPool, prompt: readonly number[]) {
    this.pool = pool;
    this.inputs = [...prompt];
    this.table = new BlockTable(pool.allocator, {
      blockSize: pool.blockSize,
      maxBlocksPerSeq: pool.maxBlocksPerSeq,
    });
    this.kvd = kvDim(pool.config);
    this.hs = headSize(pool.config);
    this.kvMul = pool.config.nHeads / pool.config.nKvHeads;
    this.promptHashes = hashChain(prompt, pool.blockSize);
  }

  /** Full blocks whose K/V is complete and findable by hash. */
  get registeredBlocks(): number {
    return this.hashes.length;
  }

  /**
   * Adopts the longest run of cached full blocks matching the prompt, verified token by token;
   * at least the last prompt position is left to compute (its logits start the sampling).
   */
  adoptPrefix(prompt: readonly number[]): number {
    const bs = this.pool.blockSize;
    const a = this.pool.allocator;
    const maxBlocks = Math.floor((prompt.length - 1) / bs);
    const held: number[] = [];
    let parent = 0n;
    for (let b = 0; b < maxBlocks; b++) {
      const tokens = prompt.slice(b * bs, (b + 1) * bs);
      const h = blockHash(parent, tokens);
      const parentBlock = b === 0 ? -1 : held[b - 1]!;
      const block = a.tryAcquireByHash(h, (id) => {
        const c = a.contentOfBlock(id);
        return c !== undefined && c.parent === parentBlock && c.tokens.every((t, i) => t === tokens[i]);
      });
      if (block === null) break;
      held.push(block);
      this.hashes.push(h);
      parent = h;
    }
    if (held.length > 0) this.table.adopt(held, held.length * bs);
    return held.length * bs;
  }

  reserve(pos: number): void {
    if (pos < this.table.length) return;
    const before = this.table.blockCount;
    const copy = this.table.append(pos + 1 - this.table.length);
    if (copy) throw new Error("a sequence never writes into a shared block here");
    for (let i = before; i < this.table.blockCount; i++) this.pool.notePromiseUsed(this);
  }

  write(layer: number, pos: number, k: Float32Array, v: Float32Array): void {
    const bs = this.pool.blockSize;
    const at = (this.table.blocks[(pos / bs) | 0]! * bs + (pos % bs)) * this.kvd;
    this.pool.keys[layer]!.set(k.subarray(0, this.kvd), at);
    this.pool.values[layer]!.set(v.subarray(0, this.kvd), at);
    if (layer === this.pool.config.nLayers - 1 && pos % bs === bs - 1) this.register(pos);
  }

  /** Feeds back the token chosen for position pos+1 (its input), so full blocks can be hashed. */
  noteInput(pos: number, token: number): void {
    if (pos === this.inputs.length) this.inputs.push(token);
  }

  private register(lastPos: number): void {
    const bs = this.pool.blockSize;
    const b = (lastPos / bs) | 0;
    if (b < this.hashes.length) return; // adopted, already registered
    const tokens = this.inputs.slice(b * bs, (b + 1) * bs);
    if (tokens.length < bs) return;
    const parent = b === 0 ? 0n : this.hashes[b - 1]!;
    const h = blockHash(parent, tokens);
    this.hashes.push(h);
    this.pool.allocator.registerBlockHash(this.table.blocks[b]!, h, {
      tokens,
      parent: b === 0 ? -1 : this.table.blocks[b - 1]!,
    });
  }

  attend(layer: number, pos: number, q: Float32Array, out: Float32Array, att: Float32Array): void {
    const { hs, kvd } = this;
    const bs = this.pool.blockSize;
    const keys = this.pool.keys[layer]!;
    const values = this.pool.values[layer]!;
    const blocks = this.table.blocks;
    const scale = Math.fround(Math.sqrt(hs));
    const nHeads = this.pool.config.nHeads;
    for (let h = 0; h < nHeads; h++) {
      const qo = h * hs;
      const ho = ((h / this.kvMul) | 0) * hs;
      for (let t = 0; t <= pos; t++) {
        const kt = (blocks[(t / bs) | 0]! * bs + (t % bs)) * kvd + ho;
        let s = 0;
        for (let i = 0; i < hs; i++) s += q[qo + i]! * keys[kt + i]!;
        att[t] = Math.fround(s) / scale;
      }
      softmax(att, pos + 1);
      out.fill(0, qo, qo + hs);
      for (let t = 0; t <= pos; t++) {
        const a = att[t]!;
        const vt = (blocks[(t / bs) | 0]! * bs + (t % bs)) * kvd + ho;
        for (let i = 0; i < hs; i++) out[qo + i] = out[qo + i]! + Math.fround(a * values[vt + i]!);
      }
    }
  }

  release(): void {
    this.table.release();
  }
}
