/**
 * Incremental chain hashing for decoding: each block is hashed once, when its last token arrives.
 * A push that brings many full blocks (a whole prompt) hashes them as one chain, natively when
 * the library is loaded; fast-mode hashes are kept in a BigUint64Array, with no bigint per block.
 */
import { checkInt, LlmemError } from "@llmem/core";
import { blockExtraWords, type ChainOptions, readChainOptions } from "./block-keys.ts";
import { fastChainIntoHashes, type HashList } from "./chain.ts";
import { type HashMode, modeOf, ROOT_HASH } from "./mode.ts";
import { secureChain } from "./secure.ts";
import { badToken, toTokenWords } from "./tokens.ts";

/** What a fast push that completes no block returns (most pushes while decoding): shared, it has no elements. */
const NONE = new BigUint64Array(0);

export class PrefixHasher {
  readonly blockSize: number;
  readonly mode: HashMode;
  /** The keys every block is hashed with (salt, LoRA, multimodal, mode). */
  readonly options: ChainOptions | undefined;
  private readonly pending: Uint32Array;
  private fill = 0;
  /** Completed blocks. */
  private count = 0;
  /** fast mode: the hashes of the completed blocks in [0, count), grown by doubling. */
  private fastHashes = new BigUint64Array(0);
  /** secure mode: the hashes of the completed blocks. */
  private readonly secureHashes: bigint[] = [];

  constructor(blockSize: number, options?: ChainOptions) {
    this.blockSize = checkInt("blockSize", blockSize, 1, 1 << 20);
    // Read and checked once: a bad key is refused here, not at the first completed block.
    const checked = readChainOptions(options);
    if (checked?.parent !== undefined) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        "PrefixHasher starts a sequence: options.parent is not taken",
        {
          argument: "options.parent",
        },
      );
    }
    this.mode = modeOf(checked);
    this.options = checked;
    this.pending = new Uint32Array(blockSize);
  }

  /**
   * Hashes of the completed blocks, in order (equal to hashChain of the tokens pushed so far):
   * in fast mode a BigUint64Array view of the hasher's own storage (read it, do not write it;
   * it stays valid, later blocks go past its end), in secure mode a bigint[].
   */
  get hashes(): HashList {
    return this.mode === "fast" ? this.fastHashes.subarray(0, this.count) : this.secureHashes;
  }

  /** Tokens pushed so far. */
  get tokenCount(): number {
    return this.count * this.blockSize + this.fill;
  }

  /** The last completed block's hash (ROOT_HASH before the first). */
  get lastHash(): bigint {
    if (this.count === 0) return ROOT_HASH;
    return this.mode === "fast" ? this.fastHashes[this.count - 1]! : this.secureHashes[this.count - 1]!;
  }

  /**
   * Canonical extra-key words of block `block` (its salt, LoRA, multimodal keys), or null
   * without keys: what a verified prefix-cache hit must match besides the tokens.
   */
  extraWords(block: number): Uint32Array | null {
    return blockExtraWords(this.options, block, this.blockSize);
  }

  /**
   * Appends tokens; returns the hashes of the blocks they completed (often none), a
   * BigUint64Array in fast mode and a bigint[] in secure mode. All tokens are validated before
   * any is taken, so a bad id leaves the hasher unchanged.
   */
  push(tokens: ArrayLike<number> | number): HashList {
    // Measured and checked once, by the engine for typed arrays (a Uint32Array subclass or a
    // byte array wearing its prototype passed `instanceof` with a length it did not have, and a
    // detached one hashed as empty): every id is valid before any is taken.
    if (typeof tokens === "number") return this.pushOne(tokens);
    const list = toTokenWords("tokens", tokens);
    const n = list.length;
    const bs = this.blockSize;
    const before = this.count;
    let i = 0;
    if (this.fill > 0) {
      while (this.fill < bs && i < n) this.pending[this.fill++] = list[i++]!;
      if (this.fill < bs) return this.completedSince(before);
      this.hashBlocks(this.pending, 1);
      this.fill = 0;
    }
    const blocks = Math.floor((n - i) / bs);
    if (blocks > 0) {
      const end = i + blocks * bs;
      this.hashBlocks(list.subarray(i, end), blocks);
      i = end;
    }
    while (i < n) this.pending[this.fill++] = list[i++]!;
    return this.completedSince(before);
  }

  /** One token id (the decode loop's case): no list to build or measure. */
  private pushOne(t: number): HashList {
    if (t >>> 0 !== t) throw badToken("tokens", 0, t);
    this.pending[this.fill++] = t;
    if (this.fill < this.blockSize) return this.mode === "secure" ? [] : NONE;
    const before = this.count;
    this.hashBlocks(this.pending, 1);
    this.fill = 0;
    return this.completedSince(before);
  }

  private completedSince(before: number): HashList {
    if (this.mode === "secure") return this.secureHashes.slice(before, this.count);
    return before === this.count ? NONE : this.fastHashes.slice(before, this.count);
  }

  /** Hashes `blocks` full blocks of `words` (validated) as the next blocks of the chain. */
  private hashBlocks(words: Uint32Array, blocks: number): void {
    const bs = this.blockSize;
    const first = this.count;
    const parent = this.lastHash;
    if (this.mode === "secure") {
      const keys = this.options;
      const done = secureChain(parent, words, 0, bs, blocks, (k) => blockExtraWords(keys, first + k, bs));
      for (const h of done) this.secureHashes.push(h);
      this.count += blocks;
      return;
    }
    this.reserve(first + blocks);
    fastChainIntoHashes(words, bs, blocks, first, this.options, parent, this.fastHashes, first);
    this.count += blocks;
  }

  private reserve(needed: number): void {
    if (needed <= this.fastHashes.length) return;
    const grown = new BigUint64Array(Math.max(needed, 2 * this.fastHashes.length, 16));
    grown.set(this.fastHashes.subarray(0, this.count));
    this.fastHashes = grown;
  }
}
