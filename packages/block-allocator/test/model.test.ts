// Model-based property test: the allocator against a deliberately naive reference (plain arrays,
// linear scans) that spells out the policy: clean blocks LIFO, then never-used blocks in order,
// then cached soft-free blocks least recently freed first.
import { expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import fc from "fast-check";
import { BlockAllocator, type BlockHash } from "../src/index.ts";

/**
 * Keys of every kind the allocator stores differently: exact u64 bigints (kept only as the
 * index's fingerprint), strings and bigints beyond 64 bits (kept as objects for confirmation),
 * including a wide bigint whose low 64 bits equal an exact key's.
 */
function keyOf(h: number): BlockHash {
  if (h % 3 === 1) return `k${h}`;
  if (h % 3 === 2) return (1n << 64n) + BigInt(h - 2);
  return BigInt(h);
}

class Model {
  refs: number[];
  hashOf: (BlockHash | undefined)[];
  table = new Map<BlockHash, number>();
  clean: number[] = []; // stack: last is reused first
  fresh = 0;
  cached: number[] = []; // free order: first is evicted first
  peak = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly capacity: number) {
    this.refs = new Array(capacity).fill(0);
    this.hashOf = new Array(capacity).fill(undefined);
  }
  get freeCount() {
    return this.clean.length + (this.capacity - this.fresh) + this.cached.length;
  }
  forget(b: number) {
    const h = this.hashOf[b];
    if (h !== undefined && this.table.get(h) === b) this.table.delete(h);
    this.hashOf[b] = undefined;
    const i = this.cached.indexOf(b);
    if (i >= 0) {
      this.cached.splice(i, 1);
      this.clean.push(b);
    }
  }
  take(): number {
    let b: number;
    if (this.clean.length > 0) b = this.clean.pop()!;
    else if (this.fresh < this.capacity) b = this.fresh++;
    else {
      b = this.cached.shift()!;
      this.forget(b);
      this.evictions++;
    }
    this.refs[b] = 1;
    return b;
  }
  notePeak() {
    this.peak = Math.max(this.peak, this.capacity - this.freeCount);
  }
  allocateN(n: number): number[] | string {
    if (n > this.capacity) return "OUT_OF_RANGE";
    if (n > this.freeCount) return "POOL_EXHAUSTED";
    const out = Array.from({ length: n }, () => this.take());
    this.notePeak();
    return out;
  }
  free(blocks: number[]): string | undefined {
    const after = [...this.refs];
    for (const b of blocks) {
      if (after[b] === 0) return "DOUBLE_FREE";
      after[b]!--;
    }
    this.refs = after;
    for (const b of blocks) {
      if (this.refs[b] === 0 && !this.clean.includes(b) && !this.cached.includes(b)) {
        if (this.hashOf[b] !== undefined) this.cached.push(b);
        else this.clean.push(b);
      }
    }
    return undefined;
  }
  acquire(b: number): string | undefined {
    if (this.refs[b] === 0) return "BLOCK_NOT_LIVE";
    this.refs[b]!++;
    return undefined;
  }
  register(b: number, h: BlockHash): string | undefined {
    if (this.refs[b] === 0) return "BLOCK_NOT_LIVE";
    const old = this.hashOf[b];
    if (old !== undefined && this.table.get(old) === b) this.table.delete(old);
    const holder = this.table.get(h);
    if (holder !== undefined && holder !== b) this.forget(holder);
    this.table.set(h, b);
    this.hashOf[b] = h;
    return undefined;
  }
  clear(b: number): string | undefined {
    if (this.refs[b] === 0) return "BLOCK_NOT_LIVE";
    this.forget(b);
    return undefined;
  }
  tryAcquire(h: BlockHash): number | null {
    const b = this.table.get(h);
    if (b === undefined) {
      this.misses++;
      return null;
    }
    if (this.refs[b] === 0) {
      this.cached.splice(this.cached.indexOf(b), 1);
      this.refs[b] = 1;
      this.notePeak();
    } else this.refs[b]!++;
    this.hits++;
    return b;
  }
}

type Op =
  | { kind: "allocateN"; n: number }
  | { kind: "free"; picks: number[] }
  | { kind: "acquire"; pick: number }
  | { kind: "register"; pick: number; hash: number }
  | { kind: "tryAcquire"; hash: number }
  | { kind: "clear"; pick: number };

const CAP = 6;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("allocateN" as const), n: fc.integer({ min: 0, max: CAP + 1 }) }),
  fc.record({
    kind: fc.constant("free" as const),
    picks: fc.array(fc.integer({ min: 0, max: CAP - 1 }), { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant("acquire" as const), pick: fc.integer({ min: 0, max: CAP - 1 }) }),
  fc.record({
    kind: fc.constant("register" as const),
    pick: fc.integer({ min: 0, max: CAP - 1 }),
    hash: fc.integer({ min: 0, max: 4 }),
  }),
  fc.record({ kind: fc.constant("tryAcquire" as const), hash: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant("clear" as const), pick: fc.integer({ min: 0, max: CAP - 1 }) }),
);

function run<T>(f: () => T): T | string {
  try {
    return f();
  } catch (e) {
    if (e instanceof LlmemError) return e.code;
    throw e;
  }
}

function check(ops: Op[]): void {
  const real = new BlockAllocator(CAP);
  const model = new Model(CAP);
  for (const op of ops) {
    let got: unknown;
    let want: unknown;
    switch (op.kind) {
      case "allocateN":
        got = run(() => real.allocateN(op.n));
        want = model.allocateN(op.n);
        break;
      case "free":
        got = run(() => real.free(op.picks));
        want = model.free(op.picks);
        break;
      case "acquire":
        got = run(() => real.acquire(op.pick));
        want = model.acquire(op.pick);
        break;
      case "register":
        got = run(() => real.registerBlockHash(op.pick, keyOf(op.hash)));
        want = model.register(op.pick, keyOf(op.hash));
        break;
      case "clear":
        got = run(() => real.clearBlockHash(op.pick));
        want = model.clear(op.pick);
        break;
      case "tryAcquire":
        got = run(() => real.tryAcquireByHash(keyOf(op.hash)));
        want = model.tryAcquire(keyOf(op.hash));
        break;
    }
    expect(got).toEqual(want);
    for (let b = 0; b < CAP; b++) {
      expect(real.refCount(b)).toBe(model.refs[b]!);
      expect(real.hashOfBlock(b)).toBe(model.hashOf[b]);
    }
    const m = real.metrics();
    expect(m.free).toBe(model.freeCount);
    expect(m.hashedBlocks).toBe(model.table.size);
    expect(m.cachedBlocks).toBe(model.cached.length);
    expect(m.peakInUse).toBe(model.peak);
    expect([m.hits, m.misses, m.evictions]).toEqual([model.hits, model.misses, model.evictions]);
  }
}

test("allocator matches the reference model (refcounts, hashes, soft-free, LRU eviction, resurrection)", () => {
  check([{ kind: "tryAcquire", hash: 0 }]);
  fc.assert(fc.property(fc.array(opArb, { maxLength: 60 }), check), { numRuns: 500 });
});
