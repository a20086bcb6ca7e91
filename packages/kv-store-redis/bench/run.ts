// Block write and read throughput through Redis on loopback: the store (encode + checksum +
// SET NX PX, pipelined; pipelined GET + verify) paired in each round with the bare client
// (the same SETs and GETs of the same bytes, no header, no checks), so load from other
// processes hits both alike. Starts its own redis-server unless LLMEM_REDIS_URL is set.
// Usage: bun run bench [rounds]
import { RedisClient } from "bun";
import { BlockCodec, RedisKvStore, tokenFingerprint } from "../src/index.ts";
import { freshFingerprint } from "../test/redis-server.ts";
import { benchServer, fmt, header, median, ROUNDS, SIZES, TOTAL, time } from "./common.ts";

const { url, own } = await benchServer();
const raw = new RedisClient(url, { autoReconnect: false });
await raw.connect();

console.log(await header("", url));
// The store's own CPU work, no network: encode (header, copy, checksum) and verify (checks,
// checksum), so the store's share of the totals below is visible.
const codec = new BlockCodec({ numLayers: 16, numKvHeads: 8, headDim: 64, kvFormat: "f16", blockSize: 16 });
const KEY = "llmem:v1:0123abcd:f16:16:0000000000000001";
for (const size of SIZES) {
  const payload = new Uint8Array(size).fill(7);
  const n = TOTAL / size;
  const enc: number[] = [];
  const ver: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let value: Uint8Array = payload;
    const te = await time(async () => {
      for (let i = 0; i < n; i++) value = codec.encode(KEY, 5n, payload);
    });
    const tv = await time(async () => {
      for (let i = 0; i < n; i++) if (codec.verify(value, KEY, 5n) !== "ok") throw new Error("verify");
    });
    enc.push(TOTAL / 1e9 / te);
    ver.push(TOTAL / 1e9 / tv);
  }
  console.log(`codec, ${size >> 10} KiB blocks (CPU only): encode ${fmt(enc)} GB/s, verify ${fmt(ver)} GB/s`);
}
console.log(
  "block | store write GB/s | bare write | store read GB/s | bare read | store/bare write · read (paired medians)",
);
for (const size of SIZES) {
  const n = TOTAL / size;
  const payloads = Array.from({ length: n }, (_, i) => new Uint8Array(size).fill(i & 255));
  const hashes = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  const fps = hashes.map((h) => tokenFingerprint([Number(h)]));
  const r = {
    sw: [] as number[],
    bw: [] as number[],
    sr: [] as number[],
    br: [] as number[],
    w: [] as number[],
    rd: [] as number[],
  };
  // One store for every round, as an engine keeps one: its recycled values are warm after
  // the first round. The keys are removed between rounds, so every write is a new one.
  const store = new RedisKvStore({
    url,
    modelFingerprint: freshFingerprint(),
    kvFormat: "f16",
    blockSize: 16,
    numLayers: 16,
    numKvHeads: 8,
    headDim: 64,
    readTimeoutMs: 30_000,
    writeTimeoutMs: 30_000,
    maxBlocksPerCall: 4096,
    onWarn: (line) => console.error(line),
  });
  if (!(await store.ready(5000))) throw new Error("no server");
  for (let round = 0; round < ROUNDS; round++) {
    const writesBefore = store.stats().writes;
    const bareKeys = hashes.map((h) => `bench:bare:${round}:${h}`);
    const sw = await time(async () => {
      for (let i = 0; i < n; i++) store.putAsync(hashes[i]!, fps[i]!, payloads[i]!);
      await store.flush();
    });
    const bw = await time(() =>
      Promise.all(bareKeys.map((k, i) => raw.set(k, payloads[i]!, "NX", "PX", "600000"))),
    );
    let got = 0;
    const sr = await time(async () => {
      got = (await store.getBlocks(hashes, fps)).length;
    });
    const br = await time(() => Promise.all(bareKeys.map((k) => raw.getBuffer(k))));
    const st = store.stats();
    if (got !== n || st.writes - writesBefore !== n)
      throw new Error(`round ${round}: ${got} read, ${st.writes - writesBefore} written of ${n}`);
    const gb = TOTAL / 1e9;
    r.sw.push(gb / sw);
    r.bw.push(gb / bw);
    r.sr.push(gb / sr);
    r.br.push(gb / br);
    r.w.push(sw / bw);
    r.rd.push(sr / br);
    if (own !== null) await raw.send("FLUSHALL", []);
    else await raw.send("DEL", [...bareKeys, ...hashes.map((h) => store.key(h))]);
  }
  store.close();
  console.log(
    `${size >> 10} KiB | ${fmt(r.sw)} | ${fmt(r.bw)} | ${fmt(r.sr)} | ${fmt(r.br)} | ${median(r.w).toFixed(2)}× · ${median(r.rd).toFixed(2)}× time`,
  );
}
// One 1,024-token prompt as an engine would fetch it: 64 blocks of 16 tokens in a Llama-3.2-1B
// f16 layout (16 layers, 8 KV heads, head dim 64: 512 KiB per block, 32 MiB in all).
{
  const layout = { kvFormat: "f16", blockSize: 16, numLayers: 16, numKvHeads: 8, headDim: 64 } as const;
  const store = new RedisKvStore({
    url,
    modelFingerprint: freshFingerprint(),
    ...layout,
    // this measures speed, not the fault path: a heavily loaded machine must not turn a slow
    // read into a timeout (the default 100 ms + 10 ms/MiB did at a load average of 10)
    readTimeoutMs: 30_000,
    onWarn: console.error,
  });
  if (!(await store.ready(5000))) throw new Error("no server");
  const hashes = Array.from({ length: 64 }, (_, i) => BigInt(i + 1));
  const fps = hashes.map((h) => tokenFingerprint([Number(h)]));
  const block = new Uint8Array(16 * 2 * 16 * 8 * 64 * 2).fill(5);
  for (const h of hashes) store.putAsync(h, fps[Number(h) - 1]!, block);
  await store.flush();
  const lookup: number[] = [];
  const read: number[] = [];
  for (let round = 0; round < Math.max(ROUNDS, 5) * 2; round++) {
    lookup.push((await time(() => store.longestPrefix(hashes))) * 1000);
    let n = 0;
    read.push((await time(async () => (n = (await store.getBlocks(hashes, fps)).length))) * 1000);
    if (n !== 64) throw new Error(`read ${n} of 64 blocks (timeouts: ${store.stats().timeouts})`);
  }
  console.log(
    `1,024-token prompt, 64 × 512 KiB blocks: longestPrefix ${fmt(lookup)} ms, getBlocks ${fmt(read)} ms`,
  );
  store.close();
}
raw.close();
await own?.stop();
