/** Incremental chain hashing for decoding: each block is hashed once, when its last token arrives. */
import { checkInt } from "@llmem/core";
import { blockExtraWords, type ChainOptions } from "./block-keys.ts";
import { hashBlockWords } from "./chain.ts";
import { checkParent, type HashMode, modeOf, ROOT_HASH } from "./mode.ts";
import { badToken } from "./tokens.ts";

export class PrefixHasher {
  readonly blockSize: number;
  readonly mode: HashMode;
  /** Hashes of the completed blocks, in order (equal to hashChain of the tokens pushed so far). */
  readonly hashes: bigint[] = [];
  private readonly options: ChainOptions | undefined;
  private readonly pending: Uint32Array;
  private fill = 0;
  private parent: bigint;

  constructor(blockSize: number, options?: ChainOptions) {
    this.blockSize = checkInt("blockSize", blockSize, 1, 1 << 20);
    this.mode = modeOf(options);
    this.options = options;
    this.pending = new Uint32Array(blockSize);
    this.parent = checkParent(ROOT_HASH, this.mode);
  }

  /** Tokens pushed so far. */
  get tokenCount(): number {
    return this.hashes.length * this.blockSize + this.fill;
  }

  /** The last completed block's hash (ROOT_HASH before the first). */
  get lastHash(): bigint {
    return this.parent;
  }

  /**
   * Appends tokens; returns the hashes of the blocks they completed (often none). All tokens are
   * validated before any is taken, so a bad id leaves the hasher unchanged.
   */
  push(tokens: ArrayLike<number> | number): bigint[] {
    const list = typeof tokens === "number" ? [tokens] : tokens;
    for (let i = 0; i < list.length; i++) {
      const t = list[i]!;
      if (t >>> 0 !== t) throw badToken("tokens", i, t);
    }
    const done: bigint[] = [];
    for (let i = 0; i < list.length; i++) {
      this.pending[this.fill++] = list[i]!;
      if (this.fill === this.blockSize) {
        const index = this.hashes.length;
        const extra = blockExtraWords(this.options, index, this.blockSize);
        this.parent = hashBlockWords(this.mode, this.parent, this.pending, 0, this.blockSize, extra);
        this.hashes.push(this.parent);
        done.push(this.parent);
        this.fill = 0;
      }
    }
    return done;
  }
}
