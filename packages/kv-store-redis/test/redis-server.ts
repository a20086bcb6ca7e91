/**
 * Real redis-server processes for the tests: each on a free loopback port, with its own temp
 * directory, no persistence, killed and removed in `stop()`. When `redis-server` is absent a
 * visible SKIPPED line says so, and under `CI=true` the absence is a failure instead, so a CI
 * machine that lost its server cannot pass by skipping every store test.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient, type Subprocess } from "bun";

/** The redis-server binary on `env.PATH`; absent: a SKIPPED line, or (CI=true) an exception. */
export function redisServerBinary(env: Record<string, string | undefined> = process.env): string | undefined {
  const bin = Bun.which("redis-server", { PATH: env.PATH ?? "" });
  if (bin !== null) return bin;
  if (env.CI === "true") {
    throw new Error(
      "redis-server is not installed (CI=true: the store tests need a real server; apt-get install redis-server)",
    );
  }
  console.warn(
    "SKIPPED: @llmem/kv-store-redis server tests need redis-server (apt-get install redis-server)",
  );
  return undefined;
}

async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every server process still running, killed when this process exits however the test file
 * ended (a failing hook, a timeout, an uncaught error), so no redis-server outlives its tests.
 */
const live = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export class RedisServer {
  readonly bin: string;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly #args: string[];
  #proc: Subprocess | null = null;
  #admin: RedisClient | null = null;

  private constructor(bin: string, port: number, args: string[]) {
    this.bin = bin;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), "llmem-redis-"));
    this.#args = args;
  }

  /** Starts a server (extra `redis-server` arguments allowed) and waits until it answers PING. */
  static async start(bin: string, extraArgs: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(bin, await freePort(), extraArgs);
    await server.restart();
    return server;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** (Re)starts the process on the same port and directory. */
  async restart(): Promise<void> {
    if (this.#proc !== null) throw new Error("redis-server is already running");
    this.#proc = Bun.spawn(
      [
        this.bin,
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.dir,
        ...this.#args,
      ],
      { stdout: "ignore", stderr: "inherit" },
    );
    live.add(this.#proc);
    // Bounded: 5 s of 20 ms attempts.
    for (let i = 0; i < 250; i++) {
      const c = new RedisClient(this.url, {
        autoReconnect: false,
        enableOfflineQueue: false,
        connectionTimeout: 200,
      });
      try {
        await c.connect();
        await c.send("PING", []);
        return;
      } catch {
        await sleep(20);
      } finally {
        c.close();
      }
    }
    throw new Error(`redis-server on port ${this.port} did not answer within 5 s`);
  }

  /** SIGKILL, and waits for the process to be gone. */
  async kill(): Promise<void> {
    const p = this.#proc;
    if (p === null) return;
    this.#admin?.close();
    this.#admin = null;
    p.kill("SIGKILL");
    await p.exited;
    live.delete(p);
    this.#proc = null;
  }

  pause(): void {
    this.#proc?.kill("SIGSTOP");
  }

  resume(): void {
    this.#proc?.kill("SIGCONT");
  }

  /** A plain client for arranging test state (CONFIG, SETRANGE, raw values). */
  async admin(): Promise<RedisClient> {
    if (this.#admin === null) {
      this.#admin = new RedisClient(this.url, { autoReconnect: false, connectionTimeout: 1000 });
      await this.#admin.connect();
    }
    return this.#admin;
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Where the functional tests run: `LLMEM_REDIS_URL` if set, else a server of their own. */
export interface TestTarget {
  readonly url: string;
  /** The server this run started (absent with `LLMEM_REDIS_URL`). */
  readonly own: RedisServer | null;
  admin(): Promise<RedisClient>;
  stop(): Promise<void>;
}

export async function testTarget(): Promise<TestTarget | undefined> {
  const external = process.env.LLMEM_REDIS_URL;
  if (external !== undefined && external !== "") {
    let admin: RedisClient | null = null;
    return {
      url: external,
      own: null,
      async admin() {
        if (admin === null) {
          admin = new RedisClient(external, { autoReconnect: false, connectionTimeout: 1000 });
          await admin.connect();
        }
        return admin;
      },
      async stop() {
        admin?.close();
      },
    };
  }
  const bin = redisServerBinary();
  if (bin === undefined) return undefined;
  const own = await RedisServer.start(bin);
  return { url: own.url, own, admin: () => own.admin(), stop: () => own.stop() };
}

/** A fresh model fingerprint, so runs sharing one server never see each other's keys. */
export function freshFingerprint(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
}
