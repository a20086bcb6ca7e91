/**
 * hash → block, as an open-addressing table in one Int32Array (linear probing, backward-shift
 * deletion, so no tombstones and O(1) expected per operation at any fill it allows).
 *
 * A JS Map with a million bigint keys costs several dependent cache misses per lookup; here a
 * lookup usually touches one 16-byte slot: [fingerprint lo, fingerprint hi, block + 1, exact].
 * The fingerprint of a bigint in [0, 2^64) is the value itself ("exact": equal fingerprints mean
 * equal keys); of a larger bigint its low 64 bits, of a string its 64-bit wyhash. Non-exact
 * fingerprints are confirmed against the key stored per block (`keyOf`). Slots are placed with a
 * per-table random seed: `fast` hashes are seedless and predictable, so without it crafted prompts
 * could pile their hashes into one probe run.
 */
import type { BlockHash } from "./allocator.ts";

const U64_LIMIT = 1n << 64n;
const wide = new BigUint64Array(1);
const halves = new Uint32Array(wide.buffer);

const LO = 0;
const HI = 1;
const BLOCK = 2;
const EXACT = 3;

export class HashIndex {
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private readonly seedLo: number;
  private readonly seedHi: number;
  private count = 0;
  // The fingerprint of the key last passed to `fingerprint`.
  private lo = 0;
  private hi = 0;
  private exact = 0;

  /** `maxEntries` keys at most (one per block): the table keeps its load factor at or below 1/2. */
  constructor(
    maxEntries: number,
    private readonly keyOf: (block: number) => BlockHash | undefined,
  ) {
    let bits = 4;
    while (2 ** bits < 2 * maxEntries) bits++;
    this.slots = new Int32Array(4 * 2 ** bits);
    this.mask = 2 ** bits - 1;
    this.shift = 32 - bits;
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
    return i < 0 ? -1 : this.slots[4 * i + BLOCK]! - 1;
  }

  /** Maps `key` (not present) to `block`. */
  add(key: BlockHash, block: number): void {
    this.fingerprint(key);
    const s = this.slots;
    let i = this.home(this.lo, this.hi);
    while (s[4 * i + BLOCK] !== 0) i = (i + 1) & this.mask;
    s[4 * i + LO] = this.lo;
    s[4 * i + HI] = this.hi;
    s[4 * i + BLOCK] = block + 1;
    s[4 * i + EXACT] = this.exact;
    this.count++;
  }

  /** Removes `key` if it maps to `block`. */
  removeIf(key: BlockHash, block: number): void {
    const i = this.find(key);
    if (i >= 0 && this.slots[4 * i + BLOCK] === block + 1) this.removeSlot(i);
  }

  private find(key: BlockHash): number {
    this.fingerprint(key);
    const s = this.slots;
    const lo = this.lo;
    const hi = this.hi;
    const exact = this.exact;
    let i = this.home(lo, hi);
    for (;;) {
      const b = s[4 * i + BLOCK]!;
      if (b === 0) return -1;
      if (s[4 * i + LO] === lo && s[4 * i + HI] === hi) {
        if (exact === 1 && s[4 * i + EXACT] === 1) return i;
        if (this.keyOf(b - 1) === key) return i;
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
  }

  private home(lo: number, hi: number): number {
    return Math.imul(lo ^ this.seedLo ^ Math.imul(hi ^ this.seedHi, 0x85ebca77), 0x9e3779b1) >>> this.shift;
  }

  /** Backward-shift deletion: later entries of the probe run move up so lookups never stop early. */
  private removeSlot(hole: number): void {
    const s = this.slots;
    let i = hole;
    let j = hole;
    for (;;) {
      j = (j + 1) & this.mask;
      if (s[4 * j + BLOCK] === 0) break;
      const k = this.home(s[4 * j + LO]!, s[4 * j + HI]!);
      // Entry j may fill the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!stays) {
        s.copyWithin(4 * i, 4 * j, 4 * j + 4);
        i = j;
      }
    }
    s.fill(0, 4 * i, 4 * i + 4);
    this.count--;
  }
}
