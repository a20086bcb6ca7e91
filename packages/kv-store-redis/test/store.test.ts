// The store against a real server: binary-safe round trips, write-once, one round trip per
// lookup, and every kind of damaged value turned into a miss (never other bytes).
import { afterAll, describe, expect, test } from "bun:test";
import { expectLlmemError } from "@llmem/core/testing";
import { HEADER_BYTES, RedisKvStore, type RedisKvStoreOptions, tokenFingerprint } from "../src/index.ts";
import { freshFingerprint, testTarget } from "./redis-server.ts";

const target = await testTarget();
afterAll(async () => {
  await target?.stop();
});

const LAYOUT = { numLayers: 2, numKvHeads: 2, headDim: 8, kvFormat: "f16", blockSize: 4 } as const;
const PAYLOAD = 2 * 2 * LAYOUT.blockSize * LAYOUT.numKvHeads * LAYOUT.headDim * 2; // K and V, f16

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

interface Block {
  hash: bigint;
  fp: bigint;
  payload: Uint8Array;
}

function blocks(n: number, seed = 0): Block[] {
  return Array.from({ length: n }, (_, i) => ({
    hash: BigInt.asUintN(64, 0x9e3779b97f4a7c15n * BigInt(seed * 1000 + i + 1)),
    fp: tokenFingerprint([seed, i, i + 1, i + 2]),
    payload: randomBytes(PAYLOAD),
  }));
}

/** A store on the test server, connected (calls before that would be misses). */
async function openStore(
  extra: Partial<RedisKvStoreOptions> = {},
): Promise<{ store: RedisKvStore; warnings: string[] }> {
  const warnings: string[] = [];
  const store = new RedisKvStore({
    url: target!.url,
    modelFingerprint: freshFingerprint(),
    ...LAYOUT,
    readTimeoutMs: 1000, // a loaded CI machine; the timeout tests use their own
    ttlMs: 600_000, // keys left on a server of LLMEM_REDIS_URL expire soon
    onWarn: (line) => warnings.push(line),
    ...extra,
  });
  expect(await store.ready(5000)).toBe(true);
  return { store, warnings };
}

async function putAll(store: RedisKvStore, bs: Block[]): Promise<void> {
  for (const b of bs) expect(store.putAsync(b.hash, b.fp, b.payload)).toBe(true);
  await store.flush();
}

const hashes = (bs: Block[]) => bs.map((b) => b.hash);
const fps = (bs: Block[]) => bs.map((b) => b.fp);

describe.skipIf(target === undefined)("RedisKvStore on a real server", () => {
  test("blocks round-trip byte for byte, every byte value included", async () => {
    const { store, warnings } = await openStore();
    const bs = blocks(5);
    bs[0]!.payload = Uint8Array.from({ length: 256 * 4 }, (_, i) => i & 255); // 0x00, 0x0d, 0x0a, 0x80…
    bs[1]!.payload = new Uint8Array(0);
    await putAll(store, bs);
    expect(await store.longestPrefix(hashes(bs))).toBe(5);
    const got = await store.getBlocks(hashes(bs), fps(bs));
    expect(got.length).toBe(5);
    for (let i = 0; i < 5; i++)
      expect(Buffer.compare(Buffer.from(got[i]!), Buffer.from(bs[i]!.payload))).toBe(0);
    const s = store.stats();
    expect(s).toMatchObject({
      hits: 5,
      misses: 0,
      corrupt: 0,
      writes: 5,
      dropped: 0,
      lookups: 1,
      lookupBlocks: 5,
    });
    const total = bs.reduce((a, b) => a + HEADER_BYTES + b.payload.length, 0);
    expect(s.bytesOut).toBe(total);
    expect(s.bytesIn).toBe(total);
    expect(warnings).toEqual([]);
    store.close();
  });

  test("keys follow llmem:v1:{model}:{format}:{block size}:{hash}", async () => {
    const { store } = await openStore({ modelFingerprint: "00c0ffee", ttlMs: undefined });
    expect(store.key(0xabcn)).toBe("llmem:v1:00c0ffee:f16:4:0000000000000abc");
    const wide = (await openStore({ modelFingerprint: "00c0ffee", hashBits: 256 })).store;
    expect(wide.key(1n)).toBe(`llmem:v1:00c0ffee:f16:4:${"0".repeat(63)}1`);
    const [b] = blocks(1, 7);
    await putAll(store, [b!]);
    const admin = await target!.admin();
    expect(await admin.exists(store.key(b!.hash))).toBe(true);
    const ttl = Number(await admin.send("PTTL", [store.key(b!.hash)]));
    expect(ttl).toBeGreaterThan(23 * 3600 * 1000); // the default TTL, 24 h
    store.close();
    wide.close();
  });

  test("write-once: a second write of the same key keeps the first value", async () => {
    const { store } = await openStore();
    const [b] = blocks(1, 1);
    await putAll(store, [b!]);
    expect(store.putAsync(b!.hash, b!.fp, randomBytes(PAYLOAD))).toBe(true);
    await store.flush();
    const [got] = await store.getBlocks([b!.hash], [b!.fp]);
    expect(Buffer.compare(Buffer.from(got!), Buffer.from(b!.payload))).toBe(0);
    expect(store.stats()).toMatchObject({ writes: 1, writesExisting: 1 });
    store.close();
  });

  test("putAsync copies the payload: reusing the buffer at once changes nothing stored", async () => {
    const { store } = await openStore();
    const [b] = blocks(1, 2);
    const expected = b!.payload.slice();
    store.putAsync(b!.hash, b!.fp, b!.payload);
    b!.payload.fill(0xee);
    await store.flush();
    const [got] = await store.getBlocks([b!.hash], [b!.fp]);
    expect(Buffer.compare(Buffer.from(got!), Buffer.from(expected))).toBe(0);
    store.close();
  });

  test("writes queued before the first connection is up wait for it instead of being dropped", async () => {
    const store = new RedisKvStore({ url: target!.url, modelFingerprint: freshFingerprint(), ...LAYOUT });
    const bs = blocks(3, 9);
    for (const b of bs) expect(store.putAsync(b.hash, b.fp, b.payload)).toBe(true);
    await store.flush();
    expect(store.stats()).toMatchObject({ writes: 3, dropped: 0 });
    expect(await store.getBlocks(hashes(bs), fps(bs))).toHaveLength(3);
    store.close();
  });

  test("close() under a write batch drops what is unsent, silently; every write is accounted for", async () => {
    const { store, warnings } = await openStore({ maxBatchBytes: 4 * 2 ** 20 });
    const n = 64;
    const big = randomBytes(256 * 1024);
    for (let i = 0; i < n; i++) store.putAsync(BigInt(1000 + i), 0n, big);
    await Bun.sleep(2); // the drain has started
    store.close();
    await store.flush();
    await Bun.sleep(50);
    const s = store.stats();
    expect(s.writes + s.dropped).toBe(n);
    expect(s.queuedBytes).toBe(0);
    expect(warnings).toEqual([]);
    expect(store.putAsync(1n, 0n, big)).toBe(false); // closed: nothing is queued
  });

  test("a hole (an evicted block) ends the prefix for longestPrefix and getBlocks", async () => {
    const { store } = await openStore();
    const bs = blocks(6, 3);
    await putAll(store, bs);
    await (await target!.admin()).send("DEL", [store.key(bs[3]!.hash)]);
    expect(await store.longestPrefix(hashes(bs))).toBe(3);
    const got = await store.getBlocks(hashes(bs), fps(bs));
    expect(got.length).toBe(3);
    expect(store.stats()).toMatchObject({ hits: 3, misses: 3, corrupt: 0 });
    expect(await store.longestPrefix([])).toBe(0);
    expect(await store.getBlocks([], [])).toEqual([]);
    store.close();
  });

  test.skipIf(target?.own === null)("longestPrefix and getBlocks are one round trip each", async () => {
    const { store } = await openStore();
    const bs = blocks(32, 4);
    await putAll(store, bs);
    const admin = await target!.admin();
    const reads = async () =>
      Number(/total_reads_processed:(\d+)/.exec(await admin.send("INFO", ["stats"]))![1]);
    // Warm the script cache so EVALSHA hits (after a restart the first lookup also sends EVAL).
    await store.longestPrefix(hashes(bs));
    let before = await reads();
    expect(await store.longestPrefix(hashes(bs))).toBe(32);
    expect((await reads()) - before).toBe(2); // the lookup, and the INFO that measures it
    before = await reads();
    expect((await store.getBlocks(hashes(bs), fps(bs))).length).toBe(32);
    expect((await reads()) - before).toBe(2);
    store.close();
  });

  test("a full write queue drops writes and counts them; it never waits", async () => {
    const { store, warnings } = await openStore({ queueBytes: 3 * (HEADER_BYTES + PAYLOAD) });
    const bs = blocks(10, 5);
    const accepted = bs.map((b) => store.putAsync(b.hash, b.fp, b.payload));
    expect(accepted).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(store.stats().dropped).toBe(7);
    expect(warnings.length).toBe(1); // one line for seven drops
    expect(warnings[0]).toContain("write queue full");
    await store.flush();
    expect(store.stats()).toMatchObject({ writes: 3, queuedBytes: 0 });
    store.close();
  });

  test("bad arguments are LlmemErrors naming the argument, before any I/O", async () => {
    const { store } = await openStore({ maxBlocksPerCall: 8 });
    expectLlmemError(() => store.putAsync(-1n, 0n, new Uint8Array(1)), "INVALID_ARGUMENT", "hash");
    expectLlmemError(
      () => store.putAsync(1n << 64n, 0n, new Uint8Array(1)),
      "INVALID_ARGUMENT",
      "hash",
      "2^64",
    );
    expectLlmemError(
      () => store.putAsync(1n, 1n << 64n, new Uint8Array(1)),
      "INVALID_ARGUMENT",
      "tokenFingerprint",
    );
    expectLlmemError(
      () => store.putAsync(1n, 0n, [1, 2] as unknown as Uint8Array),
      "INVALID_ARGUMENT",
      "payload",
    );
    expectLlmemError(() => store.longestPrefix(new Array(9).fill(1n)), "OUT_OF_RANGE", "hashes length", "8");
    expectLlmemError(() => store.getBlocks([1n, 2n], [0n]), "INVALID_ARGUMENT", "tokenFingerprints", "2");
    expectLlmemError(() => store.getBlocks([1n], [-1n]), "INVALID_ARGUMENT", "tokenFingerprints[0]");
    expectLlmemError(
      () => store.getBlocks([1n, 2n, 3 as unknown as bigint], [0n, 0n, 0n]),
      "INVALID_ARGUMENT",
      "hashes[2]",
    );
    expectLlmemError(() => store.ready(-1), "OUT_OF_RANGE", "timeoutMs");
    store.close();
    const base = { url: "redis://127.0.0.1:1", modelFingerprint: "abcdef01", ...LAYOUT };
    expectLlmemError(
      () => new RedisKvStore({ ...base, url: "http://127.0.0.1:6379" }),
      "INVALID_ARGUMENT",
      "url",
    );
    expectLlmemError(() => new RedisKvStore({ ...base, url: "redis://" }), "INVALID_ARGUMENT", "url");
    expectLlmemError(
      () => new RedisKvStore({ ...base, modelFingerprint: "XYZ" }),
      "INVALID_ARGUMENT",
      "modelFingerprint",
    );
    expectLlmemError(
      () => new RedisKvStore({ ...base, kvFormat: "f64" as "f16" }),
      "INVALID_ARGUMENT",
      "kvFormat",
      "q8_0",
    );
    expectLlmemError(() => new RedisKvStore({ ...base, blockSize: 0 }), "OUT_OF_RANGE", "blockSize");
    expectLlmemError(
      () => new RedisKvStore({ ...base, numLayers: 70000 }),
      "OUT_OF_RANGE",
      "numLayers",
      "65535",
    );
    expectLlmemError(() => new RedisKvStore({ ...base, readTimeoutMs: 0 }), "OUT_OF_RANGE", "readTimeoutMs");
    expectLlmemError(
      () => new RedisKvStore({ ...base, hashBits: 128 as 64 }),
      "INVALID_ARGUMENT",
      "hashBits",
    );
    expectLlmemError(
      () => new RedisKvStore({ ...base, maxBlocksPerCall: 1 << 20 }),
      "OUT_OF_RANGE",
      "maxBlocksPerCall",
    );
  });
});
