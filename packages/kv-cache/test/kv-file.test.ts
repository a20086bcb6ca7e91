// KV files: a round trip restores exactly the KV that was saved and a prompt with that prefix
// skips it; any damage anywhere in the file (every bit of a small one), truncation, trailing
// bytes, another model or another layout is a FORMAT_ERROR that leaves the cache as it was.
import { afterAll, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codeOf } from "@llmem/core/testing";
import {
  HostTier,
  modelFingerprint,
  PagedKvCache,
  type PagedSequence,
  restoreKvFile,
  saveKvFile,
} from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "llmem-kvfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const L = 2;
const KV = 2;
const HD = 8;
const ROW = KV * HD;
const model = modelFingerprint(
  [{ name: "w", type: "f32", shape: [4, 4], data: new Uint8Array(64).fill(7) }],
  {
    weights: "f32",
  },
);
const otherModel = modelFingerprint(
  [{ name: "w", type: "f32", shape: [4, 4], data: new Uint8Array(64).fill(8) }],
  {
    weights: "f32",
  },
);

function cacheOf(numBlocks = 16, format: "f32" | "q8_0" = "f32", headDim = HD): PagedKvCache {
  return new PagedKvCache({ numLayers: L, numKvHeads: KV, headDim, blockSize: 4, numBlocks, format });
}

/** Deterministic KV per (token, position, layer), so a restored block can be told from a recomputed one. */
function rows(t: number, pos: number, l: number, kind: number, width = ROW): Float32Array {
  return Float32Array.from({ length: width }, (_, i) =>
    Math.sin(t * 0.37 + pos * 1.3 + l * 2.1 + kind * 0.7 + i * 0.11),
  );
}

function prefill(seq: PagedSequence, prompt: readonly number[], width = ROW): void {
  for (let p = seq.cachedTokens; p < prompt.length; p++) {
    seq.beginStep(prompt[p]!);
    for (let l = 0; l < L; l++)
      seq.write(l, rows(prompt[p]!, p, l, 0, width), rows(prompt[p]!, p, l, 1, width));
    seq.end();
  }
}

const prompt = Array.from({ length: 13 }, (_, i) => 100 + ((i * 7) % 11)); // 3 full blocks + 1
const branch = [...prompt.slice(0, 8), 1, 2, 3, 4, 5]; // shares 2 blocks, then its own

/** A cache whose prefix cache holds `prompt`'s and `branch`'s blocks, and the file it saved. */
function savedFile(name: string): { path: string; cache: PagedKvCache; expected: Float32Array[] } {
  const cache = cacheOf();
  const a = cache.admit(prompt)!;
  prefill(a, prompt);
  const expected = Array.from({ length: L }, (_, l) => cache.read(a, l).keys.slice(0, 12 * ROW));
  a.release();
  const b = cache.admit(branch)!;
  prefill(b, branch);
  b.release();
  const path = join(dir, name);
  const r = saveKvFile(cache, path, { model });
  expect(r).toEqual({ blocks: 4, bytes: readFileSync(path).length, skipped: 0 });
  return { path, cache, expected };
}

function snapshot(cache: PagedKvCache) {
  return { stats: cache.stats(), hashes: cache.allocator.hashTableSize, metrics: cache.allocator.metrics() };
}

test("round trip: the restored prefix is adopted, its KV is what was saved, reusedFrom says file", () => {
  const { path, expected } = savedFile("round.kv");
  const cache = cacheOf();
  expect(restoreKvFile(cache, path, { model })).toEqual({ blocks: 4, present: 0, skipped: 0, leftOut: 0 });
  expect(cache.stats().cachedBlocks).toBe(4);
  const seq = cache.admit(prompt)!;
  expect(seq.cachedTokens).toBe(12);
  expect(seq.reusedFrom).toEqual({ device: 0, host: 0, file: 12, redis: 0 });
  for (let l = 0; l < L; l++) expect(cache.read(seq, l).keys).toEqual(expected[l]!);
  const other = cache.admit(branch)!;
  expect(other.cachedTokens).toBe(12); // two shared blocks and its own third
  // restoring again finds everything present and copies nothing
  expect(restoreKvFile(cache, path, { model })).toEqual({ blocks: 0, present: 4, skipped: 0, leftOut: 0 });
});

test("a sequence alone can be saved", () => {
  const cache = cacheOf();
  const a = cache.admit(prompt)!;
  prefill(a, prompt);
  const b = cache.admit(branch)!;
  prefill(b, branch);
  const path = join(dir, "one-seq.kv");
  expect(saveKvFile(cache, path, { model, sequence: b }).blocks).toBe(3);
  const fresh = cacheOf();
  restoreKvFile(fresh, path, { model });
  expect(fresh.admit(branch)!.cachedTokens).toBe(12);
  expect(fresh.admit(prompt)!.cachedTokens).toBe(8);
});

test("every single-bit flip anywhere in the file is refused, and the cache is unchanged", () => {
  const { path } = savedFile("flip.kv");
  const good = readFileSync(path);
  const cache = cacheOf();
  const warm = cache.admit([9, 9, 9, 9, 9])!; // some state to compare
  prefill(warm, [9, 9, 9, 9, 9]);
  const before = snapshot(cache);
  const bad = join(dir, "flip-bad.kv");
  // One copy of the file, each byte flipped and put back in place (two one-byte writes per
  // position instead of rewriting the whole file: this test was the slowest of the package).
  writeFileSync(bad, good);
  const fd = openSync(bad, "r+");
  let refused = 0;
  try {
    for (let i = 0; i < good.length; i++) {
      writeSync(fd, Uint8Array.of(good[i]! ^ (1 << (i % 8))), 0, 1, i);
      const code = codeOf(() => restoreKvFile(cache, bad, { model }));
      writeSync(fd, good, i, 1, i);
      if (code !== "FORMAT_ERROR") expect({ i, code }).toEqual({ i, code: "FORMAT_ERROR" });
      refused++;
    }
  } finally {
    closeSync(fd);
  }
  expect(refused).toBe(good.length);
  expect(readFileSync(bad)).toEqual(good);
  expect(snapshot(cache)).toEqual(before);
});

test("truncation at every region, trailing bytes, an empty file, another model: FORMAT_ERROR, nothing loaded", () => {
  const { path } = savedFile("trunc.kv");
  const good = readFileSync(path);
  const cache = cacheOf();
  const before = snapshot(cache);
  const bad = join(dir, "trunc-bad.kv");
  const cuts = [0, 3, 64, 127, 128, 200, good.length - 1000, good.length - 100, good.length - 1];
  for (const n of cuts) {
    writeFileSync(bad, good.subarray(0, n));
    expect({ n, code: codeOf(() => restoreKvFile(cache, bad, { model })) }).toEqual({
      n,
      code: "FORMAT_ERROR",
    });
  }
  writeFileSync(bad, Buffer.concat([good, Buffer.from([0])]));
  expect(codeOf(() => restoreKvFile(cache, bad, { model }))).toBe("FORMAT_ERROR");
  expect(codeOf(() => restoreKvFile(cache, path, { model: otherModel }))).toBe("FORMAT_ERROR");
  expect(codeOf(() => restoreKvFile(cache, join(dir, "missing.kv"), { model }))).toBe("INVALID_ARGUMENT");
  expect(snapshot(cache)).toEqual(before);
});

test("another layout (format, head dim) or a pool too small: refused before anything changes", () => {
  const { path } = savedFile("layout.kv");
  for (const cache of [cacheOf(16, "q8_0", 32), cacheOf(16, "f32", 16)]) {
    const before = snapshot(cache);
    expect(codeOf(() => restoreKvFile(cache, path, { model }))).toBe("FORMAT_ERROR");
    expect(snapshot(cache)).toEqual(before);
  }
  const small = cacheOf(3);
  const before = snapshot(small);
  expect(codeOf(() => restoreKvFile(small, path, { model }))).toBe("CAPACITY_EXCEEDED");
  expect(snapshot(small)).toEqual(before);
  // fit: the leading blocks (parents first) that fit are restored, the rest left out
  expect(restoreKvFile(small, path, { model, fit: true })).toEqual({
    blocks: 3,
    present: 0,
    skipped: 0,
    leftOut: 1,
  });
  expect(small.stats().cachedBlocks).toBe(3);
  expect(small.admit(prompt.slice(0, 9))!.cachedTokens).toBe(8);
});

test("restoring over blocks the pool computed itself copies only the missing ones", () => {
  const { path } = savedFile("clash.kv");
  const cache = cacheOf();
  const s = cache.admit(prompt)!;
  prefill(s, prompt); // the same blocks, computed here: present, not copied
  expect(restoreKvFile(cache, path, { model })).toEqual({ blocks: 1, present: 3, skipped: 0, leftOut: 0 });
  expect(s.reusedFrom.file).toBe(0);
});

test("blocks only the host tier holds (evicted from the pool) are saved too, verified, and restore exactly", () => {
  const cache = cacheOf(4); // 4 blocks: a second prompt of 4 blocks evicts the first one's 3
  const host = new HostTier(1 << 20);
  cache.attachHostTier(host);
  const a = cache.admit(prompt)!;
  prefill(a, prompt);
  const expected = Array.from({ length: L }, (_, l) => cache.read(a, l).keys.slice(0, 12 * ROW));
  a.release();
  const other = Array.from({ length: 16 }, (_, i) => 300 + i);
  const b = cache.admit(other)!;
  prefill(b, other);
  b.release();
  expect(host.stats().blocks).toBe(3); // prompt's 3 cached blocks live only in the host tier now
  // A host block whose tokens do not hash to its key (damage, or a lying tier) is left out.
  host.put({
    hash: 12345n,
    parentHash: null,
    tokens: new Uint32Array(4).fill(9),
    extra: null,
    payload: host.blocks()[0]!.payload,
    origin: "device",
  });
  const path = join(dir, "host-only.kv");
  // other's 4 blocks from the pool, prompt's 3 from the host tier; the forged one skipped
  expect(saveKvFile(cache, path, { model })).toEqual({
    blocks: 7,
    bytes: readFileSync(path).length,
    skipped: 1,
  });
  const fresh = cacheOf();
  expect(restoreKvFile(fresh, path, { model })).toEqual({ blocks: 7, present: 0, skipped: 0, leftOut: 0 });
  const seq = fresh.admit(prompt)!;
  expect(seq.cachedTokens).toBe(12);
  expect(seq.reusedFrom).toEqual({ device: 0, host: 0, file: 12, redis: 0 });
  for (let l = 0; l < L; l++) expect(fresh.read(seq, l).keys).toEqual(expected[l]!);
  // saving one sequence leaves the host tier out
  const s = cache.admit(other)!;
  expect(saveKvFile(cache, join(dir, "seq-only.kv"), { model, sequence: s }).blocks).toBe(3); // its adopted blocks
});

test("host-tier blocks kept in another format are saved in the pool's format", () => {
  const W = KV * 32; // q8_0 rows need 32-wide heads
  const cache = cacheOf(4, "f32", 32);
  cache.attachHostTier(new HostTier(1 << 20, { format: "q8_0" }));
  const a = cache.admit(prompt)!;
  prefill(a, prompt, W);
  a.release();
  const other = Array.from({ length: 16 }, (_, i) => 300 + i);
  prefill(cache.admit(other)!, other, W);
  const path = join(dir, "host-q8.kv");
  expect(saveKvFile(cache, path, { model }).blocks).toBe(7);
  const fresh = cacheOf(16, "f32", 32);
  restoreKvFile(fresh, path, { model });
  const seq = fresh.admit(prompt)!;
  expect(seq.cachedTokens).toBe(12);
  // q8_0 on the way down: close to what was computed (|x| <= 1, step 1/127), not equal
  const want = rows(prompt[0]!, 0, 0, 0, W);
  const got = fresh.read(seq, 0).keys.subarray(0, W);
  let worst = 0;
  for (let i = 0; i < W; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeGreaterThan(0);
  expect(worst).toBeLessThan(0.01);
});
