// The transport alone, paired in each round: the raw RESP client (src/resp-client.ts) against
// Bun's built-in RedisClient, the same pipelined SET NX PX and GET of the same bytes, no store
// header or checks. Starts its own redis-server unless LLMEM_REDIS_URL is set.
// Usage: bun run bench/transport.ts [rounds]
import { RedisClient } from "bun";
import { RespClient } from "../src/resp-client.ts";
import { benchServer, fmt, header, ROUNDS, SIZES, TOTAL, time } from "./common.ts";

const { url, own } = await benchServer();
const bun = new RedisClient(url, { autoReconnect: false });
await bun.connect();
const raw = new RespClient(url, { maxBulkBytes: 2 ** 21 });
await raw.connect();

console.log(await header("transport, ", url));
console.log(
  "block | raw write GB/s | Bun.redis write | raw read GB/s | Bun.redis read | raw/Bun.redis speed write · read (paired medians)",
);
for (const size of SIZES) {
  const n = TOTAL / size;
  const payloads = Array.from({ length: n }, (_, i) => new Uint8Array(size).fill(i & 255));
  const r = {
    rw: [] as number[],
    bw: [] as number[],
    rr: [] as number[],
    br: [] as number[],
    w: [] as number[],
    rd: [] as number[],
  };
  for (let round = 0; round < ROUNDS; round++) {
    const rk = payloads.map((_, i) => `bench:raw:${round}:${i}`);
    const bk = payloads.map((_, i) => `bench:bun:${round}:${i}`);
    // Alternate which goes first, so neither always meets a fresh server.
    const order = round % 2 === 0;
    const wr = () =>
      time(() => Promise.all(rk.map((k, i) => raw.set(k, payloads[i]!, "NX", "PX", "600000"))));
    const wb = () =>
      time(() => Promise.all(bk.map((k, i) => bun.set(k, payloads[i]!, "NX", "PX", "600000"))));
    let tw: number;
    let tb: number;
    if (order) {
      tw = await wr();
      tb = await wb();
    } else {
      tb = await wb();
      tw = await wr();
    }
    let got: Awaited<ReturnType<RespClient["getBuffer"]>>[] = [];
    let gotb: (Uint8Array | null)[] = [];
    const rr = () =>
      time(async () => {
        got = await Promise.all(rk.map((k) => raw.getBuffer(k)));
      });
    const rb = () =>
      time(async () => {
        gotb = await Promise.all(bk.map((k) => bun.getBuffer(k)));
      });
    let trr: number;
    let tbr: number;
    if (order) {
      trr = await rr();
      tbr = await rb();
    } else {
      tbr = await rb();
      trr = await rr();
    }
    for (let i = 0; i < n; i++) {
      const g = got[i];
      if (!(g instanceof Uint8Array) || g.length !== size || g[size - 1] !== (i & 255))
        throw new Error(`raw read ${i} wrong`);
      if (gotb[i]?.length !== size) throw new Error(`bun read ${i} wrong`);
    }
    const gb = TOTAL / 1e9;
    r.rw.push(gb / tw);
    r.bw.push(gb / tb);
    r.rr.push(gb / trr);
    r.br.push(gb / tbr);
    r.w.push(tb / tw);
    r.rd.push(tbr / trr);
    await bun.send("DEL", [...rk, ...bk]);
  }
  console.log(
    `${size >> 10} KiB | ${fmt(r.rw)} | ${fmt(r.bw)} | ${fmt(r.rr)} | ${fmt(r.br)} | ${fmt(r.w)} · ${fmt(r.rd)}`,
  );
}
raw.close();
bun.close();
await own?.stop();
