// RemoteTier against an in-memory store with the RedisKvStore contract: committed blocks are
// written once each, a prompt's stored prefix is copied into the pool and adopted with the same
// KV, and short or oversized payloads, a full pool and a store that fails are all misses.
import { expect, test } from "bun:test";
import {
  HostTier,
  PagedKvCache,
  type PagedSequence,
  RemoteTier,
  type SharedBlockStore,
} from "../src/index.ts";

const L = 2;
const ROW = 8;

function rows(t: number, pos: number, l: number, kind: number): Float32Array {
  return Float32Array.from({ length: ROW }, (_, i) => Math.sin(t + pos * 0.7 + l * 1.9 + kind + i * 0.13));
}

function prefill(seq: PagedSequence, prompt: readonly number[]): void {
  for (let p = seq.cachedTokens; p < prompt.length; p++) {
    seq.beginStep(prompt[p]!);
    for (let l = 0; l < L; l++) seq.write(l, rows(prompt[p]!, p, l, 0), rows(prompt[p]!, p, l, 1));
    seq.end();
  }
}

/** Write-once blocks keyed by hash, checked against the token fingerprint, as RedisKvStore does. */
class MemoryStore implements SharedBlockStore {
  readonly blocks = new Map<bigint, { fp: bigint; payload: Uint8Array }>();
  failing = false;
  async longestPrefix(hashes: ArrayLike<bigint>): Promise<number> {
    if (this.failing) return 0;
    let i = 0;
    while (i < hashes.length && this.blocks.has(hashes[i]!)) i++;
    return i;
  }
  async getBlocks(hashes: ArrayLike<bigint>, fps: ArrayLike<bigint>): Promise<Uint8Array[]> {
    if (this.failing) return [];
    const out: Uint8Array[] = [];
    for (let i = 0; i < hashes.length; i++) {
      const b = this.blocks.get(hashes[i]!);
      if (b === undefined || b.fp !== fps[i]) break;
      out.push(b.payload.slice());
    }
    return out;
  }
  putAsync(hash: bigint, fp: bigint, payload: Uint8Array): boolean {
    if (!this.blocks.has(hash)) this.blocks.set(hash, { fp, payload: payload.slice() });
    return true;
  }
}

const cacheOf = (numBlocks = 16) =>
  new PagedKvCache({ numLayers: L, numKvHeads: 1, headDim: ROW, blockSize: 4, numBlocks });
const prompt = Array.from({ length: 14 }, (_, i) => 20 + ((i * 5) % 9)); // 3 full blocks + 2

test("blocks computed by one cache are fetched by another and adopted with the same KV", async () => {
  const store = new MemoryStore();
  const a = cacheOf();
  const wa = new RemoteTier(a, store);
  const s = a.admit(prompt)!;
  prefill(s, prompt);
  expect(store.blocks.size).toBe(3);
  expect(wa.stats().written).toBe(3);
  const expected = [0, 1].map((l) => a.read(s, l).keys.slice(0, 12 * ROW));

  const b = cacheOf();
  const rb = new RemoteTier(b, store);
  expect(await rb.prefetch(prompt)).toBe(3);
  const t = b.admit(prompt)!;
  expect(t.cachedTokens).toBe(12);
  expect(t.reusedFrom).toEqual({ device: 0, host: 0, file: 0, redis: 12 });
  for (let l = 0; l < L; l++) expect(b.read(t, l).keys).toEqual(expected[l]!);
  expect(await rb.prefetch(prompt)).toBe(0); // all held now: no store call copies anything
  // adopted blocks are not written again
  prefill(t, prompt);
  expect(rb.stats().written).toBe(0);
});

test("a wrong-sized payload, a failing store or a full pool: misses, nothing wrong adopted", async () => {
  const store = new MemoryStore();
  const a = cacheOf();
  new RemoteTier(a, store);
  prefill(a.admit(prompt)!, prompt);
  const hashes = [...store.blocks.keys()];

  // block 1 damaged to the wrong size: only block 0 is copied
  const good = store.blocks.get(hashes[1]!)!;
  store.blocks.set(hashes[1]!, { fp: good.fp, payload: good.payload.subarray(1) });
  const b = cacheOf();
  const rb = new RemoteTier(b, store);
  expect(await rb.prefetch(prompt)).toBe(1);
  expect(rb.stats().refusedBlocks).toBe(2);
  expect(b.admit(prompt)!.cachedTokens).toBe(4);
  store.blocks.set(hashes[1]!, good);

  store.failing = true;
  const c = cacheOf();
  expect(await new RemoteTier(c, store).prefetch(prompt)).toBe(0);
  store.failing = false;

  // a pool whose free blocks are promised to a live sequence takes nothing
  const d = cacheOf(4);
  const live = d.admit([1, 2, 3], { maxTokens: 16 })!;
  const before = d.stats();
  expect(await new RemoteTier(d, store).prefetch(prompt)).toBe(0);
  expect(d.stats()).toEqual(before);
  live.release();
});

/** Counts the store's round trips, so "no call" is checked without timing anything. */
class CountingStore extends MemoryStore {
  lookups = 0;
  asked: bigint[][] = [];
  override async longestPrefix(hashes: ArrayLike<bigint>): Promise<number> {
    this.lookups++;
    return super.longestPrefix(hashes);
  }
  override async getBlocks(hashes: ArrayLike<bigint>, fps: ArrayLike<bigint>): Promise<Uint8Array[]> {
    this.asked.push(Array.from(hashes));
    return super.getBlocks(hashes, fps);
  }
}

test("prefetch looks in the host tier first: no store call for what it holds, only the rest is read", async () => {
  const store = new CountingStore();
  const a = cacheOf();
  new RemoteTier(a, store);
  const s = a.admit(prompt)!;
  prefill(s, prompt);
  const expected = [0, 1].map((l) => a.read(s, l).keys.slice(0, 12 * ROW));
  const hashes = [...store.blocks.keys()];
  expect(hashes.length).toBe(3);

  // b: 4 blocks and a host tier; `branch` shares prompt's first 2 blocks. Computing branch and
  // then an unrelated 4-block prompt leaves branch's blocks in the host tier only.
  const b = new PagedKvCache({ numLayers: L, numKvHeads: 1, headDim: ROW, blockSize: 4, numBlocks: 4 });
  const host = new HostTier(1 << 20);
  b.attachHostTier(host);
  const branch = [...prompt.slice(0, 8), 1, 2, 3, 4, 5];
  const rb = new RemoteTier(b, new MemoryStore()); // writes elsewhere: `store` keeps prompt's 3 only
  const x = b.admit(branch)!;
  prefill(x, branch);
  x.release();
  const other = Array.from({ length: 16 }, (_, i) => 300 + i);
  const o = b.admit(other)!;
  prefill(o, other);
  o.release();
  rb.detach();
  expect(host.stats().blocks).toBe(3);

  // The whole prefix of branch is in the host tier: prefetch makes no store call at all.
  const viaStore = new RemoteTier(b, store);
  expect(await viaStore.prefetch(branch)).toBe(0);
  expect(store.lookups).toBe(0);
  expect(viaStore.stats().localBlocks).toBe(3);
  // prompt: the host tier holds its blocks 0-1 (shared with branch), the store all 3: only
  // block 2 is read from the store, and the host run moves up into the pool ahead of it.
  expect(await viaStore.prefetch(prompt)).toBe(1);
  expect(store.lookups).toBe(1);
  expect(store.asked).toEqual([[hashes[2]!]]);
  const t = b.admit(prompt)!;
  expect(t.cachedTokens).toBe(12);
  expect(t.reusedFrom).toEqual({ device: 0, host: 8, file: 0, redis: 4 });
  for (let l = 0; l < L; l++) expect(b.read(t, l).keys).toEqual(expected[l]!);
});
