// Damaged, foreign and misplaced values on a real server: each is a miss with one warning,
// never bytes other than the ones written for that key and those tokens.
import { afterAll, describe, expect, test } from "bun:test";
import { HEADER_BYTES, RedisKvStore, type RedisKvStoreOptions, tokenFingerprint } from "../src/index.ts";
import { freshFingerprint, testTarget } from "./redis-server.ts";

const target = await testTarget();
afterAll(async () => {
  await target?.stop();
});

const LAYOUT = { numLayers: 2, numKvHeads: 1, headDim: 4, kvFormat: "q8_0", blockSize: 2 } as const;

function openStore(model: string, extra: Partial<RedisKvStoreOptions> = {}) {
  const warnings: string[] = [];
  const store = new RedisKvStore({
    url: target!.url,
    modelFingerprint: model,
    ...LAYOUT,
    readTimeoutMs: 1000,
    ttlMs: 600_000, // keys left on a server of LLMEM_REDIS_URL expire soon
    onWarn: (line) => warnings.push(line),
    ...extra,
  });
  return { store, warnings };
}

const payloadOf = (i: number, n = 32) => Uint8Array.from({ length: n }, (_, j) => (i * 37 + j * 11) & 255);
const fpOf = (i: number) => tokenFingerprint([i, i + 1]);

/** Stores blocks 1..n (hash i, tokens [i, i+1]) and returns the store. */
async function seeded(n: number, extra: Partial<RedisKvStoreOptions> = {}) {
  const model = freshFingerprint();
  const s = openStore(model, extra);
  expect(await s.store.ready(5000)).toBe(true);
  for (let i = 1; i <= n; i++) s.store.putAsync(BigInt(i), fpOf(i), payloadOf(i));
  await s.store.flush();
  expect(s.store.stats().writes).toBe(n);
  return { ...s, model };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i + 1));
const fpRange = (n: number) => Array.from({ length: n }, (_, i) => fpOf(i + 1));

/** Flips bit 0 of `value[offset]` in place on the server (SETRANGE of one byte). */
async function flipByte(key: string, value: Uint8Array, offset: number): Promise<void> {
  const admin = await target!.admin();
  const flipped = Buffer.from([value[offset]! ^ 0x01]);
  await admin.send("SETRANGE", [key, String(offset), flipped as unknown as string]);
}

describe.skipIf(target === undefined)("damaged values are misses", () => {
  test("a flipped bit anywhere in header or payload: a miss, the prefix before it still served", async () => {
    const { store, warnings } = await seeded(3);
    const key = store.key(2n);
    const size = HEADER_BYTES + 32;
    const admin = await target!.admin();
    const original = (await admin.getBuffer(key))!;
    expect(original.length).toBe(size);
    for (let offset = 0; offset < size; offset++) {
      // Restore, then damage one byte. (The store deletes values that fail their checksum; if
      // that DEL lands after this SET, SETRANGE pads a new value with zeros: still a miss.)
      await admin.send("SET", [key, original as unknown as string]);
      await flipByte(key, original, offset);
      const got = await store.getBlocks(range(3), fpRange(3));
      expect(got.length).toBe(1); // block 1 only: block 2 is refused, so nothing after it either
      expect(Buffer.compare(Buffer.from(got[0]!), Buffer.from(payloadOf(1)))).toBe(0);
    }
    await admin.send("SET", [key, original as unknown as string]);
    expect(store.stats().corrupt).toBe(size);
    expect(warnings.length).toBe(1); // rate-limited: one line for all of them
    expect(warnings[0]).toContain("treated as a miss");
    expect((await store.getBlocks(range(3), fpRange(3))).length).toBe(3);
    store.close();
  });

  test("a value whose checksum fails is deleted, so a new write can heal it", async () => {
    const { store } = await seeded(2);
    const admin = await target!.admin();
    await flipByte(store.key(2n), (await admin.getBuffer(store.key(2n)))!, HEADER_BYTES + 5);
    expect((await store.getBlocks(range(2), fpRange(2))).length).toBe(1);
    for (let i = 0; i < 100 && (await admin.exists(store.key(2n))); i++) await Bun.sleep(5); // the DEL is off the read path
    expect(await admin.exists(store.key(2n))).toBe(false);
    store.putAsync(2n, fpOf(2), payloadOf(2));
    await store.flush();
    const got = await store.getBlocks(range(2), fpRange(2));
    expect(got.length).toBe(2);
    expect(Buffer.compare(Buffer.from(got[1]!), Buffer.from(payloadOf(2)))).toBe(0);
    store.close();
  });

  test("truncated values (short payload, short header, empty) are misses", async () => {
    const { store } = await seeded(1);
    const admin = await target!.admin();
    const key = store.key(1n);
    const full = (await admin.getBuffer(key))!;
    for (const keep of [full.length - 1, HEADER_BYTES, HEADER_BYTES - 1, 4, 0]) {
      await admin.send("SET", [key, full.subarray(0, keep) as unknown as string]);
      expect(await store.getBlocks([1n], [fpOf(1)])).toEqual([]);
    }
    // A longer value (bytes appended) is no better.
    await admin.send("SET", [key, Buffer.concat([full, Buffer.from([0])]) as unknown as string]);
    expect(await store.getBlocks([1n], [fpOf(1)])).toEqual([]);
    expect(store.stats().corrupt).toBe(6);
    store.close();
  });

  test("a block written with another layout is refused (and left for its writer)", async () => {
    const { store, model } = await seeded(0);
    const other = openStore(model, { numLayers: 3 }).store; // same key space, different shape
    expect(await other.ready(5000)).toBe(true);
    other.putAsync(1n, fpOf(1), payloadOf(1));
    await other.flush();
    expect((await other.getBlocks([1n], [fpOf(1)])).length).toBe(1);
    expect(await store.getBlocks([1n], [fpOf(1)])).toEqual([]);
    expect(store.stats().corrupt).toBe(1);
    expect(await (await target!.admin()).exists(store.key(1n))).toBe(true);
    store.close();
    other.close();
  });

  test("other tokens under the same hash (a collision) are refused", async () => {
    const { store } = await seeded(2);
    const got = await store.getBlocks(range(2), [fpOf(1), tokenFingerprint([2, 4])]);
    expect(got.length).toBe(1);
    expect(store.stats()).toMatchObject({ hits: 1, misses: 1, corrupt: 1 });
    store.close();
  });

  test("another key's value copied under this key is refused, though layout and tokens match", async () => {
    const { store } = await seeded(2);
    const admin = await target!.admin();
    // Hash 3 was never written: copy block 2's value there and ask for it with block 2's tokens.
    const value = (await admin.getBuffer(store.key(2n)))!;
    await admin.send("SET", [store.key(3n), value as unknown as string]);
    expect(await store.getBlocks([3n], [fpOf(2)])).toEqual([]);
    expect(store.stats().corrupt).toBe(1);
    store.close();
  });

  test("a value that is not a block at all is refused, even one that is not a string", async () => {
    const { store } = await seeded(2);
    const admin = await target!.admin();
    await admin.send("SET", [store.key(3n), "hello"]);
    await admin.send("RPUSH", [store.key(4n), "a list"]);
    expect(await store.getBlocks([1n, 2n, 3n], [fpOf(1), fpOf(2), fpOf(3)])).toHaveLength(2);
    expect(await store.getBlocks([1n, 2n, 4n], [fpOf(1), fpOf(2), fpOf(4)])).toHaveLength(2);
    expect(store.stats()).toMatchObject({ corrupt: 2, errors: 0, hits: 4, misses: 2 });
    store.close();
  });
});
