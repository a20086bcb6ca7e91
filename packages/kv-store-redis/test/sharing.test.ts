// Blocks shared across processes: another process hashes the same prompt with @llmem/prefix-hash
// and writes its blocks; this one finds and reads them all, byte for byte. Another tenant's salt
// changes every chain hash, so it finds nothing; 256-bit (secure) chains work the same way.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { hashChain } from "@llmem/prefix-hash";
import { RedisKvStore, tokenFingerprint } from "../src/index.ts";
import { freshFingerprint, testTarget } from "./redis-server.ts";
import { BLOCK_SIZE, blockPayload, LAYOUT, prompt } from "./sharing-fixture.ts";

const target = await testTarget();
afterAll(async () => {
  await target?.stop();
});

function fingerprints(tokens: Uint32Array, blocks: number): bigint[] {
  return Array.from({ length: blocks }, (_, b) =>
    tokenFingerprint(tokens.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE)),
  );
}

describe.skipIf(target === undefined)("sharing", () => {
  test("a second process's blocks are found in one lookup and read back exactly; another tenant sees none", async () => {
    const model = freshFingerprint();
    const writer = Bun.spawnSync(
      [process.execPath, join(import.meta.dir, "writer-process.ts"), target!.url, model, "tenant-a"],
      { stderr: "pipe" },
    );
    expect(writer.stderr.toString()).toBe("");
    expect(writer.exitCode).toBe(0);
    expect(JSON.parse(writer.stdout.toString())).toMatchObject({ writes: 64, dropped: 0, writeFailures: 0 });

    const store = new RedisKvStore({
      url: target!.url,
      modelFingerprint: model,
      ...LAYOUT,
      readTimeoutMs: 2000,
    });
    expect(await store.ready(5000)).toBe(true);
    const tokens = prompt();
    const chain = hashChain(tokens, BLOCK_SIZE, { salt: "tenant-a" });
    expect(chain).toBeInstanceOf(BigUint64Array); // taken as is
    expect(await store.longestPrefix(chain)).toBe(64);
    const got = await store.getBlocks(chain, fingerprints(tokens, 64));
    expect(got.length).toBe(64);
    for (let b = 0; b < 64; b++) expect(Buffer.from(got[b]!).equals(Buffer.from(blockPayload(b)))).toBe(true);

    const other = hashChain(tokens, BLOCK_SIZE, { salt: "tenant-b" });
    expect(await store.longestPrefix(other)).toBe(0);
    expect(await store.getBlocks(other, fingerprints(tokens, 64))).toEqual([]);
    // A prompt that shares the first 40 blocks: those are found, the rest are not.
    const fork = tokens.slice();
    fork[40 * BLOCK_SIZE + 3] = 7;
    expect(await store.longestPrefix(hashChain(fork, BLOCK_SIZE, { salt: "tenant-a" }))).toBe(40);
    store.close();
  });

  test("256-bit secure chains key blocks with 64 hex digits", async () => {
    const store = new RedisKvStore({
      url: target!.url,
      modelFingerprint: freshFingerprint(),
      ...LAYOUT,
      hashBits: 256,
      readTimeoutMs: 2000,
      ttlMs: 600_000,
    });
    expect(await store.ready(5000)).toBe(true);
    const tokens = prompt().subarray(0, 8 * BLOCK_SIZE);
    const chain = hashChain(tokens, BLOCK_SIZE, { mode: "secure", salt: "t" });
    expect(store.key(chain[0]!)).toMatch(/:[0-9a-f]{64}$/);
    const fps = fingerprints(tokens, 8);
    for (let b = 0; b < 8; b++) store.putAsync(chain[b]!, fps[b]!, blockPayload(b));
    await store.flush();
    expect(await store.longestPrefix(chain)).toBe(8);
    expect((await store.getBlocks(chain, fps)).length).toBe(8);
    store.close();
  });
});
