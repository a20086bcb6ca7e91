/**
 * hash → block for at most one key per block, as an open-addressing table (linear probing,
 * backward-shift deletion: no tombstones, O(1) expected per operation at any fill it allows).
 *
 * At a million blocks every lookup is a cache miss, so the layout is about bytes, not
 * instructions. A slot is one int32: block + 1 in its low 26 bits and a 6-bit tag (5 bits of
 * the slot hash and whether the key is an exact u64) in the top 6. The key's 64-bit fingerprint
 * lives per block in `fp` (two int32), read only when a tag matches, which for a hit is the
 * block about to be touched anyway. At 1M blocks that is 8 MB of slots + 8 MB of fingerprints,
 * a third of the 32 MB the previous 16-byte slots took, so far more of it stays in the L3 cache.
 *
 * The fingerprint of a bigint in [0, 2^64) is the value itself ("exact": equal fingerprints mean
 * equal keys); of a larger or negative bigint its low 64 bits, of a string its 64-bit wyhash.
 * Non-exact fingerprints are confirmed against the key the owner stores (`keyOf`). Slots are
 * placed with a per-table random seed: `fast` hashes are seedless and predictable, so without it
 * crafted prompts could pile their hashes into one probe run.
 */
import type { BlockHash } from "./allocator.ts";

const U64_LIMIT = 1n << 64n;
const wide = new BigUint64Array(1);
const halves = new Uint32Array(wide.buffer);

const BLOCK_BITS = 26;
const BLOCK_MASK = (1 << BLOCK_BITS) - 1;
/** Largest number of blocks a table can index (block + 1 must fit the slot's 26 bits). */
export const MAX_INDEXED_BLOCKS = BLOCK_MASK;

export class HashIndex {
  private readonly slots: Int32Array;
  /** Per block: the low and high 32 bits of its key's fingerprint. */
  private readonly fp: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private readonly tagShift: number;
  private readonly seedLo: number;
  private readonly seedHi: number;
  private count = 0;
  // The fingerprint of the key last passed to `fingerprint`, and its slot hash.
  private lo = 0;
  private hi = 0;
  private exact = 0;
  private hash = 0;

  /** Blocks 0 … maxBlocks−1, one key each at most: the table keeps its load factor ≤ 1/2. */
  constructor(
    maxBlocks: number,
    private readonly keyOf: (block: number) => BlockHash | undefined,
  ) {
    if (maxBlocks > MAX_INDEXED_BLOCKS)
      throw new RangeError(`HashIndex holds ${MAX_INDEXED_BLOCKS} blocks at most`);
    let bits = 4;
    while (2 ** bits < 2 * maxBlocks) bits++;
    this.slots = new Int32Array(2 ** bits);
    this.fp = new Int32Array(2 * maxBlocks);
    this.mask = 2 ** bits - 1;
    this.shift = 32 - bits;
    this.tagShift = this.shift - 5; // ≥ 0: at most 2^27 slots (MAX_INDEXED_BLOCKS at load ½)
    const seed = crypto.getRandomValues(new Int32Array(2));
    this.seedLo = seed[0]!;
    this.seedHi = seed[1]!;
  }

  get size(): number {
    return this.count;
  }

  /** The block holding `key`, or -1. */
  get(key: BlockHash): number {
    const i = this.find(key);
    return i < 0 ? -1 : (this.slots[i]! & BLOCK_MASK) - 1;
  }

  /** Maps `key` (not present) to `block` (holding no key). */
  add(key: BlockHash, block: number): void {
    this.fingerprint(key);
    const s = this.slots;
    let i = this.hash >>> this.shift;
    while (s[i] !== 0) i = (i + 1) & this.mask;
    s[i] = (block + 1) | (this.tag() << BLOCK_BITS);
    this.fp[2 * block] = this.lo;
    this.fp[2 * block + 1] = this.hi;
    this.count++;
  }

  /** Removes `key` if it maps to `block`. */
  removeIf(key: BlockHash, block: number): void {
    const i = this.find(key);
    if (i >= 0 && (this.slots[i]! & BLOCK_MASK) === block + 1) this.removeSlot(i);
  }

  /** Removes whatever key `block` holds (found from its stored fingerprint; no key needed). */
  removeBlock(block: number): void {
    const s = this.slots;
    const want = block + 1;
    let i = this.slotHash(this.fp[2 * block]!, this.fp[2 * block + 1]!) >>> this.shift;
    for (;;) {
      const v = s[i]!;
      if (v === 0) return;
      if ((v & BLOCK_MASK) === want) {
        this.removeSlot(i);
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** The exact u64 key `block` holds as a bigint (meaningful only for a block indexed with one). */
  exactKeyOf(block: number): bigint {
    halves[0] = this.fp[2 * block]!;
    halves[1] = this.fp[2 * block + 1]!;
    return wide[0]!;
  }

  private find(key: BlockHash): number {
    this.fingerprint(key);
    const s = this.slots;
    const fp = this.fp;
    const lo = this.lo;
    const hi = this.hi;
    const exact = this.exact;
    const tag = this.tag();
    let i = this.hash >>> this.shift;
    for (;;) {
      const v = s[i]!;
      if (v === 0) return -1;
      if (v >>> BLOCK_BITS === tag) {
        const b = (v & BLOCK_MASK) - 1;
        if (fp[2 * b] === lo && fp[2 * b + 1] === hi && (exact === 1 || this.keyOf(b) === key)) return i;
      }
      i = (i + 1) & this.mask;
    }
  }

  private fingerprint(key: BlockHash): void {
    if (typeof key === "bigint") {
      wide[0] = key; // reduced mod 2^64
      this.exact = key >= 0n && key < U64_LIMIT ? 1 : 0;
    } else {
      wide[0] = Bun.hash.wyhash(key);
      this.exact = 0;
    }
    this.lo = halves[0]! | 0;
    this.hi = halves[1]! | 0;
    this.hash = this.slotHash(this.lo, this.hi);
  }

  /**
   * Seeded 64 → 32-bit multiplicative hash: the home slot is its top bits, the tag the 5 bits
   * just below them (the well-mixed high half of a product; its low bits would depend on the
   * key's low bits only).
   */
  private slotHash(lo: number, hi: number): number {
    return Math.imul(lo ^ this.seedLo ^ Math.imul(hi ^ this.seedHi, 0x85ebca77), 0x9e3779b1) >>> 0;
  }

  private tag(): number {
    return (((this.hash >>> this.tagShift) & 31) << 1) | this.exact;
  }

  /** Backward-shift deletion: later entries of the probe run move up so lookups never stop early. */
  private removeSlot(hole: number): void {
    const s = this.slots;
    let i = hole;
    let j = hole;
    for (;;) {
      j = (j + 1) & this.mask;
      const v = s[j]!;
      if (v === 0) break;
      const b = (v & BLOCK_MASK) - 1;
      const k = this.slotHash(this.fp[2 * b]!, this.fp[2 * b + 1]!) >>> this.shift;
      // Entry j may fill the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!stays) {
        s[i] = v;
        i = j;
      }
    }
    s[i] = 0;
    this.count--;
  }
}
