// Faults of a real redis-server process this file owns: absent, killed and restarted, paused
// (SIGSTOP), out of memory. Every call must come back within its timeout as a miss, with one
// warning line, and the store must recover on its own once the server is back.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { RedisKvStore, type RedisKvStoreOptions, tokenFingerprint } from "../src/index.ts";
import { freshFingerprint, RedisServer, redisServerBinary } from "./redis-server.ts";

// A loaded machine may be slow; the assertions count operations, so only a hang should fail.
setDefaultTimeout(60_000);

const bin = redisServerBinary();
const servers: RedisServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function server(extraArgs: string[] = []): Promise<RedisServer> {
  const s = await RedisServer.start(bin!, extraArgs);
  servers.push(s);
  return s;
}

const LAYOUT = { numLayers: 4, numKvHeads: 2, headDim: 64, kvFormat: "f16", blockSize: 16 } as const;
const BLOCK = 4 * 2 * 16 * 2 * 64 * 2; // 32 KiB: layers × K,V × tokens × heads × dim × f16

function openStore(url: string, extra: Partial<RedisKvStoreOptions> = {}) {
  const warnings: string[] = [];
  const store = new RedisKvStore({
    url,
    modelFingerprint: freshFingerprint(),
    ...LAYOUT,
    readTimeoutMs: 100,
    writeTimeoutMs: 300,
    connectTimeoutMs: 200,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    onWarn: (line) => warnings.push(line),
    ...extra,
  });
  return { store, warnings };
}

/** For tests whose faults are the server's answers, not its silence. */
const LOAD_PROOF = { readTimeoutMs: 30_000, writeTimeoutMs: 30_000, connectTimeoutMs: 10_000 } as const;

const payload = (i: number) => Uint8Array.from({ length: BLOCK }, (_, j) => (i * 131 + j * 7) & 255);
const fp = (i: number) => tokenFingerprint(Array.from({ length: 16 }, (_, j) => i * 16 + j));
const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => BigInt(a + i));
const fps = (a: number, n: number) => Array.from({ length: n }, (_, i) => fp(a + i));

async function putBlocks(store: RedisKvStore, a: number, n: number): Promise<void> {
  for (let i = a; i < a + n; i++) store.putAsync(BigInt(i), fp(i), payload(i));
  await store.flush();
}

function sameBytes(got: Uint8Array[], a: number): boolean {
  return got.every((g, i) => Buffer.compare(Buffer.from(g), Buffer.from(payload(a + i))) === 0);
}

// No wall-clock bounds here (a loaded machine makes any bound flaky): "never stalls" is
// checked by counting what each call did — at most one call per outage waits out its timeout
// (stats().timeouts), every later one is refused at once by the breaker (stats().unavailable)
// — and each call's timer is what bounds it.

describe.skipIf(bin === undefined)("faults of a real server", () => {
  test("no server at all: misses, one warning, writes dropped, nothing thrown or stalled", async () => {
    const s = await server();
    const url = s.url;
    await s.kill(); // a port nobody listens on any more
    const { store, warnings } = openStore(url);
    expect(await store.ready(300)).toBe(false);
    for (let i = 0; i < 20; i++) {
      expect(await store.longestPrefix(range(1, 4))).toBe(0);
      expect(await store.getBlocks(range(1, 4), fps(1, 4))).toEqual([]);
    }
    expect(store.putAsync(1n, fp(1), payload(1))).toBe(true);
    await store.flush();
    const st = store.stats();
    expect(st).toMatchObject({ hits: 0, misses: 80, connected: false, dropped: 1, writes: 0 });
    expect(st.unavailable).toBe(40); // 40 reads refused at once; the write was dropped, not sent
    expect(st.timeouts).toBe(0); // none waited for a reply
    expect(warnings.length).toBeLessThanOrEqual(2); // at most one per kind (connection, writes)
    store.close();
  });

  test("killed mid-run: calls become misses; restarted: the store reconnects and serves again", async () => {
    const s = await server();
    const { store, warnings } = openStore(s.url);
    expect(await store.ready()).toBe(true);
    await putBlocks(store, 1, 8);
    expect(sameBytes(await store.getBlocks(range(1, 8), fps(1, 8)), 1)).toBe(true);

    // Killed while a read is in flight: that read is all of the blocks or none, never a part
    // that was not verified.
    const inFlight = store.getBlocks(range(1, 8), fps(1, 8));
    await s.kill();
    const during = await inFlight;
    expect(during.length === 0 || (during.length === 8 && sameBytes(during, 1))).toBe(true);
    const before = store.stats();
    for (let i = 0; i < 30; i++) {
      expect(await store.getBlocks(range(1, 8), fps(1, 8))).toEqual([]);
      expect(await store.longestPrefix(range(1, 8))).toBe(0);
    }
    const after = store.stats();
    // A killed server closes the socket: the breaker opens, and at most one call waits out a
    // timeout (a kill racing the first call); the other 59 or more are refused at once.
    expect(after.timeouts - before.timeouts).toBeLessThanOrEqual(1);
    expect(after.unavailable - before.unavailable).toBeGreaterThanOrEqual(59);
    expect(store.putAsync(9n, fp(9), payload(9))).toBe(true);
    await store.flush();
    expect(store.stats().connected).toBe(false);
    expect(warnings.filter((w) => w.includes("not answering")).length).toBe(1);

    await s.restart(); // empty: no persistence
    expect(await store.ready(3000)).toBe(true);
    expect(await store.getBlocks(range(1, 8), fps(1, 8))).toEqual([]);
    await putBlocks(store, 1, 8); // and the Lua script is loaded again after the restart
    expect(await store.longestPrefix(range(1, 8))).toBe(8);
    expect(sameBytes(await store.getBlocks(range(1, 8), fps(1, 8)), 1)).toBe(true);
    expect(store.stats().reconnects).toBe(1);
    store.close();
  });

  test("paused (SIGSTOP): every call returns within its timeout; SIGCONT: it recovers", async () => {
    const s = await server();
    const { store, warnings } = openStore(s.url);
    expect(await store.ready()).toBe(true);
    await putBlocks(store, 1, 8);
    s.pause();
    try {
      const before = store.stats();
      for (let i = 0; i < 20; i++) {
        expect(await store.getBlocks(range(1, 8), fps(1, 8))).toEqual([]);
        expect(await store.longestPrefix(range(1, 8))).toBe(0);
      }
      expect(store.putAsync(20n, fp(20), payload(20))).toBe(true);
      await store.flush(); // resolves: the write is dropped while the breaker is open
      const after = store.stats();
      // The paused server keeps the socket open and answers nothing: only the first call waits
      // out its timeout (its timer ends it); the breaker then refuses the other 39 at once.
      expect(after.timeouts - before.timeouts).toBe(1);
      expect(after.unavailable - before.unavailable).toBe(39);
      expect(after.dropped - before.dropped).toBe(1);
    } finally {
      s.resume();
    }
    expect(await store.ready(3000)).toBe(true);
    expect(sameBytes(await store.getBlocks(range(1, 8), fps(1, 8)), 1)).toBe(true);
    expect(warnings.filter((w) => w.includes("not answering")).length).toBe(1);
    store.close();
  });

  test("the read timeout grows with the bytes asked for: a long read from a healthy server is no fault", async () => {
    const s = await server();
    const big = (i: number) => new Uint8Array(256 * 1024).fill(i);
    const bigFp = (i: number) => tokenFingerprint([i]);
    const modelFingerprint = freshFingerprint();
    const write = openStore(s.url, { modelFingerprint }).store;
    expect(await write.ready()).toBe(true);
    for (let i = 1; i <= 32; i++) write.putAsync(BigInt(i), bigFp(i), big(i));
    await write.flush();
    expect(write.stats().writes).toBe(32);
    write.close();
    // 8 MiB: far longer than 1 ms on loopback, well inside 1 ms + 8 × 1,000 ms.
    const hashes = range(1, 32);
    const fps = hashes.map((h) => bigFp(Number(h)));
    const strict = openStore(s.url, { modelFingerprint, readTimeoutMs: 1, readMsPerMiB: 0 }).store;
    const lenient = openStore(s.url, { modelFingerprint, readTimeoutMs: 1, readMsPerMiB: 1000 }).store;
    expect((await strict.ready()) && (await lenient.ready())).toBe(true);
    // Each learns the block size from its first verified read (or its writes); with a 1 ms
    // timeout that may take a few tries, and a timeout reopens the connection.
    for (const st of [strict, lenient]) {
      for (let i = 0; i < 50 && st.stats().hits === 0; i++) {
        await st.ready(3000);
        await st.getBlocks([1n], [bigFp(1)]);
      }
      expect(st.stats().hits).toBe(1);
      expect(await st.ready(3000)).toBe(true);
    }
    expect(await strict.getBlocks(hashes, fps)).toEqual([]);
    expect(strict.stats().timeouts).toBeGreaterThanOrEqual(1);
    const timeoutsBefore = lenient.stats().timeouts;
    const got = await lenient.getBlocks(hashes, fps);
    expect(got.length).toBe(32);
    expect(got.every((g, i) => g.length === 256 * 1024 && g[0] === i + 1)).toBe(true);
    expect(lenient.stats().timeouts).toBe(timeoutsBefore);
    strict.close();
    lenient.close();
  });

  test("maxmemory with noeviction: writes fail with a warning, stored blocks still read", async () => {
    const s = await server(["--maxmemory-policy", "noeviction"]);
    // Timeouts far past any load: here only the server's OOM may fail a write, so the
    // assertions count writes and never depend on how fast the machine is.
    const { store, warnings } = openStore(s.url, LOAD_PROOF);
    expect(await store.ready()).toBe(true);
    await putBlocks(store, 1, 4);
    const admin = await s.admin();
    const used = Number(/used_memory:(\d+)/.exec(await admin.send("INFO", ["memory"]))![1]);
    await admin.send("CONFIG", ["SET", "maxmemory", String(used + 8 * BLOCK)]);
    await putBlocks(store, 5, 40);
    const st = store.stats();
    expect(st.writeFailures).toBeGreaterThan(0);
    expect(st.writes).toBeGreaterThanOrEqual(4);
    expect(warnings.some((w) => w.includes("OOM"))).toBe(true);
    expect(sameBytes(await store.getBlocks(range(1, 4), fps(1, 4)), 1)).toBe(true);
    const n = await store.longestPrefix(range(1, 44));
    expect(n).toBe(st.writes); // stored in order until memory ran out
    expect(sameBytes(await store.getBlocks(range(1, n), fps(1, n)), 1)).toBe(true);
    store.close();
  });

  test("maxmemory with allkeys-lru: evicted blocks are misses, what is returned is exact", async () => {
    const s = await server(["--maxmemory-policy", "allkeys-lru"]);
    const { store } = openStore(s.url, LOAD_PROOF);
    expect(await store.ready()).toBe(true);
    const admin = await s.admin();
    const used = Number(/used_memory:(\d+)/.exec(await admin.send("INFO", ["memory"]))![1]);
    await admin.send("CONFIG", ["SET", "maxmemory", String(used + 16 * BLOCK)]);
    // Blocks 1..64 in order, each batch written while the blocks before it are read: the
    // server evicts between and during our reads.
    for (let a = 1; a <= 64; a += 8) {
      const [got] = await Promise.all([
        store.getBlocks(range(1, a + 7), fps(1, a + 7)),
        putBlocks(store, a, 8),
      ]);
      expect(sameBytes(got, 1)).toBe(true);
    }
    const n = await store.longestPrefix(range(1, 64));
    expect(n).toBeLessThan(64);
    const got = await store.getBlocks(range(1, 64), fps(1, 64));
    expect(got.length).toBeLessThanOrEqual(n);
    expect(sameBytes(got, 1)).toBe(true);
    const evicted = Number(/evicted_keys:(\d+)/.exec(await admin.send("INFO", ["stats"]))![1]);
    expect(evicted).toBeGreaterThan(0);
    expect(store.stats()).toMatchObject({ writeFailures: 0, timeouts: 0, dropped: 0 });
    store.close();
  });
});
