// The raw client and the store against a fake server on loopback that answers what the test
// says: malformed, oversized or unasked-for replies must fail the calls in flight and drop the
// connection (the store: a miss and one warning), never crash or allocate the claimed size.
import { afterAll, describe, expect, test } from "bun:test";
import { RedisKvStore } from "../src/index.ts";
import { RespClient } from "../src/resp-client.ts";

type Answer = (command: string) => string | null;

const listeners: Array<{ stop(force?: boolean): void }> = [];
afterAll(() => {
  for (const l of listeners) l.stop(true);
});

/** A loopback "server": each command (one per RESP array of bulk strings) gets `answer(name)`. */
function fakeServer(answer: Answer): string {
  const listener = Bun.listen<{ buf: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { buf: "" };
      },
      data(s, chunk) {
        s.data.buf += new TextDecoder("latin1").decode(chunk);
        // Commands are arrays of bulk strings: find complete ones and answer each.
        for (;;) {
          const m = /^\*(\d+)\r\n/.exec(s.data.buf);
          if (m === null) return;
          let at = m[0].length;
          const args: string[] = [];
          for (let i = 0; i < Number(m[1]); i++) {
            const h = /^\$(\d+)\r\n/.exec(s.data.buf.slice(at));
            if (h === null) return;
            const n = Number(h[1]);
            if (s.data.buf.length < at + h[0].length + n + 2) return;
            args.push(s.data.buf.slice(at + h[0].length, at + h[0].length + n));
            at += h[0].length + n + 2;
          }
          s.data.buf = s.data.buf.slice(at);
          const reply = answer(args[0]!.toUpperCase());
          if (reply !== null) s.write(reply);
        }
      },
    },
  });
  listeners.push(listener);
  return `redis://127.0.0.1:${listener.port}`;
}

describe("RespClient against a misbehaving server", () => {
  test("a reply too long for the limit fails every call in flight and closes the connection", async () => {
    const url = fakeServer((c) => (c === "GET" ? "$1000000000\r\nabc" : "+OK\r\n"));
    const client = new RespClient(url, { maxBulkBytes: 1024 });
    let closed = 0;
    client.onclose = () => closed++;
    await client.connect();
    expect(await client.set("k", new Uint8Array(3), "NX")).toBe("OK");
    const results = await Promise.allSettled([client.getBuffer("a"), client.getBuffer("b")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(String((results[0] as PromiseRejectedResult).reason.message)).toContain("bulk string length");
    expect(closed).toBe(1);
    expect(client.connected).toBe(false);
    await expect(client.getBuffer("c")).rejects.toThrow("not connected");
  });

  test("a server error fails its own command only; the stream goes on", async () => {
    const url = fakeServer((c) => (c === "EVALSHA" ? "-NOSCRIPT No matching script\r\n" : ":7\r\n"));
    const client = new RespClient(url, { maxBulkBytes: 1024 });
    await client.connect();
    const [a, b] = await Promise.allSettled([
      client.send("EVALSHA", ["x", "0"]),
      client.send("EVAL", ["y", "0"]),
    ]);
    expect(a.status).toBe("rejected");
    expect((a as PromiseRejectedResult).reason.code).toBe("ERR_REDIS_SERVER_ERROR");
    expect(String((a as PromiseRejectedResult).reason.message).startsWith("NOSCRIPT")).toBe(true);
    expect(b).toEqual({ status: "fulfilled", value: 7 });
    expect(client.connected).toBe(true);
    client.close();
  });

  test("the store: garbage from the server is a miss and one warning, and it retries", async () => {
    let garbage = 0;
    const url = fakeServer((c) => {
      if (c === "PING") return "+PONG\r\n";
      garbage++;
      return "!nonsense\r\n";
    });
    const warnings: string[] = [];
    const store = new RedisKvStore({
      url,
      modelFingerprint: "00c0ffee",
      kvFormat: "f16",
      blockSize: 16,
      numLayers: 1,
      numKvHeads: 1,
      headDim: 32,
      backoffMinMs: 10,
      backoffMaxMs: 20,
      onWarn: (l) => warnings.push(l),
    });
    expect(await store.ready(5000)).toBe(true);
    expect(await store.longestPrefix([1n, 2n])).toBe(0);
    expect(garbage).toBe(1);
    const st = store.stats();
    expect(st.errors).toBe(1);
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain("malformed reply");
    // The breaker reconnected (the fake answers PING): the store is usable again.
    expect(await store.ready(5000)).toBe(true);
    store.close();
  });

  /** A store against `url` with small values: 64-byte header + 1 KiB payload at most. */
  const storeAt = (url: string) =>
    new RedisKvStore({
      url,
      modelFingerprint: "00c0ffee",
      kvFormat: "f16",
      blockSize: 16,
      numLayers: 1,
      numKvHeads: 1,
      headDim: 32,
      maxValueBytes: 64 + 1024,
      readTimeoutMs: 300,
      backoffMinMs: 10,
      backoffMaxMs: 20,
      onWarn: () => {},
    });

  test("the store: a GET reply claiming 2^40 bytes is a miss, never an allocation of them", async () => {
    // Before: reads went through Bun.redis getBuffer, which allocates whatever length the
    // server claims. Now the read socket refuses any length above Redis's own 512 MiB at once.
    const url = fakeServer((c) =>
      c === "PING" ? "+PONG\r\n" : c === "GET" ? "$1099511627776\r\nabc" : "+OK\r\n",
    );
    const store = storeAt(url);
    expect(await store.ready(5000)).toBe(true);
    const rss = process.memoryUsage().rss;
    expect(await store.getBlocks([1n, 2n], [0n, 0n])).toEqual([]);
    expect(store.stats().misses).toBe(2);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
    store.close();
  });

  test("the store: a value longer than maxValueBytes is read past unstored, refused and deleted; the socket stays", async () => {
    const big = 5000; // above maxValueBytes (1,088), below Redis's 512 MiB
    const commands: string[] = [];
    let gets = 0;
    const url = fakeServer((c) => {
      commands.push(c);
      if (c === "PING") return "+PONG\r\n";
      if (c === "GET") return gets++ === 0 ? `$${big}\r\n${"x".repeat(big)}\r\n` : "$-1\r\n";
      return ":1\r\n";
    });
    const store = storeAt(url);
    expect(await store.ready(5000)).toBe(true);
    expect(await store.getBlocks([1n], [0n])).toEqual([]);
    let st = store.stats();
    expect(st.corrupt).toBe(1);
    expect(st.bytesIn).toBe(0); // nothing of it was kept
    expect(st.errors).toBe(0); // not a connection fault
    await Bun.sleep(50);
    expect(commands).toContain("DEL");
    // The same socket goes on: the next read is answered (absent) without a reconnect.
    expect(await store.getBlocks([2n], [0n])).toEqual([]);
    st = store.stats();
    expect(st.reconnects).toBe(0);
    expect(st.connected).toBe(true);
    store.close();
  });

  test("the store: a claimed length within 512 MiB that never arrives is a timeout miss, nothing allocated", async () => {
    const url = fakeServer((c) =>
      c === "PING" ? "+PONG\r\n" : c === "GET" ? "$400000000\r\nabc" : "+OK\r\n",
    );
    const store = storeAt(url);
    expect(await store.ready(5000)).toBe(true);
    const rss = process.memoryUsage().rss;
    expect(await store.getBlocks([1n], [0n])).toEqual([]);
    expect(store.stats().timeouts).toBe(1);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
    store.close();
  });

  test("putAsync refuses a payload whose value would exceed maxValueBytes (never write what a read refuses)", () => {
    const store = storeAt("redis://127.0.0.1:1");
    expect(() => store.putAsync(1n, 0n, new Uint8Array(1025))).toThrow("maxValueBytes");
    expect(store.putAsync(1n, 0n, new Uint8Array(1024))).toBe(true);
    store.close();
  });
});
