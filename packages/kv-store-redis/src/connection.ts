/**
 * The one connection a store talks through — two sockets to the same server behind one
 * breaker, both the raw RESP client (`resp-client.ts`): one for writes and prefix lookups, one
 * for block reads, so a read never waits behind a batch of large writes. Reads bound every
 * reply by the store's largest value before allocating it (Bun's built-in RedisClient, used
 * for reads before, allocated whatever length the server claimed) — with a per-call timeout
 * and a bound on calls in flight. Nothing here throws to the caller: a call returns its value or a fault, so the store
 * can turn every network problem into a miss. Either socket failing opens the breaker for both.
 *
 * After a timeout or a lost connection the breaker opens: calls fail at once ("unavailable")
 * instead of each waiting out its timeout against a dead or paused server, and one background
 * probe (PING on the old connection, then fresh connections) retries with exponential backoff
 * until the server answers or the store is closed. The clients have no reconnect of their own,
 * so there is exactly one retry policy and it is this one.
 */
import { RespClient } from "./resp-client.ts";

/** The two clients of one connection, to the same server. */
export interface Clients {
  /** Writes (SET NX PX from the value's own buffer), lookups (EVALSHA), deletes. */
  readonly raw: RespClient;
  /** Block reads (pipelined binary GETs), each reply bounded by `maxValueBytes`. */
  readonly reads: RespClient;
}

export type Fault = "unavailable" | "busy" | "timeout" | "connection" | "server";

export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly fault: Fault; readonly detail: string };

export interface ConnectionOptions {
  readonly url: string;
  /** Connecting plus the first PING, per attempt. */
  readonly connectTimeoutMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  /** Calls (pipelines) in flight at most; more are refused as "busy" rather than queued. */
  readonly maxInflight: number;
  /** The largest bulk reply the raw client accepts (it is sent no reads: replies are small). */
  readonly maxRawBulkBytes?: number;
  /**
   * The largest value a read accepts; a longer one (up to Redis's own 512 MiB limit) is read
   * past without being stored and reported as an `OversizedReply`.
   */
  readonly maxValueBytes: number;
  /** Called when the breaker opens (with why) and when it closes again. */
  readonly onState: (up: boolean, reason: string) => void;
}

/** Redis's own limit on a string value (proto-max-bulk-len): no honest reply is longer. */
export const MAX_REDIS_BULK_BYTES = 512 * 2 ** 20;

type State = "connecting" | "up" | "down" | "closed";

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    // Unreferenced: a store nobody closed must not keep the process alive while it retries.
    setTimeout(resolve, ms).unref();
  });

/** Races `promise` against `ms`; the loser is left to settle on its own (already handled). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, fault: "timeout", detail: `no reply within ${ms} ms` }),
      ms,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (e: unknown) => {
        clearTimeout(timer);
        const code = (e as { code?: unknown }).code;
        const detail = e instanceof Error ? e.message : String(e);
        resolve({ ok: false, fault: code === "ERR_REDIS_SERVER_ERROR" ? "server" : "connection", detail });
      },
    );
  });
}

export class RedisConnection {
  readonly #o: ConnectionOptions;
  #client: Clients | null = null;
  #state: State = "connecting";
  #inflight = 0;
  #probing = false;
  #waiters: Array<() => void> = [];
  /** Times the breaker closed after being open (reconnects that worked). */
  reconnects = 0;

  constructor(options: ConnectionOptions) {
    this.#o = options;
    void this.#probe();
  }

  get up(): boolean {
    return this.#state === "up";
  }

  /** The first connection attempt has not finished yet. */
  get connecting(): boolean {
    return this.#state === "connecting";
  }

  /**
   * Resolves `true` once connected; `false` when the first attempt fails or `timeoutMs` passes
   * (never rejects).
   */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.#state === "up") return Promise.resolve(true);
    if (this.#state === "closed") return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(this.#state === "up");
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(done);
    });
  }

  /**
   * Runs `fn` on the client within `timeoutMs`. Commands `fn` issues in one tick go out as one
   * pipeline (Bun auto-pipelines), so one call is one round trip.
   */
  async run<T>(timeoutMs: number, fn: (clients: Clients) => Promise<T>): Promise<Outcome<T>> {
    const client = this.#client;
    if (this.#state !== "up" || client === null) {
      return { ok: false, fault: "unavailable", detail: `not connected to ${redactUrl(this.#o.url)}` };
    }
    if (this.#inflight >= this.#o.maxInflight) {
      return { ok: false, fault: "busy", detail: `${this.#inflight} calls already in flight` };
    }
    this.#inflight++;
    let work: Promise<T>;
    try {
      work = fn(client);
    } catch (e) {
      work = Promise.reject(e);
    }
    // The slot is held until the command really settles, not until we stop waiting for it:
    // that is what bounds the work piled up on a server that stopped answering.
    work.then(
      () => this.#inflight--,
      () => this.#inflight--,
    );
    const outcome = await withTimeout(work, timeoutMs);
    if (
      !outcome.ok &&
      (outcome.fault === "timeout" || outcome.fault === "connection") &&
      client === this.#client
    ) {
      this.#open(`${outcome.fault}: ${outcome.detail}`);
    }
    return outcome;
  }

  close(): void {
    this.#state = "closed";
    closeBoth(this.#client);
    this.#client = null;
    this.#wake();
  }

  #open(reason: string): void {
    if (this.#state !== "up") return;
    this.#state = "down";
    this.#o.onState(false, reason);
    void this.#probe();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Until connected or closed: one attempt per backoff step (each attempt time-bounded). */
  async #probe(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    let backoff = this.#o.backoffMinMs;
    try {
      while (this.#state === "connecting" || this.#state === "down") {
        const failure = await this.#attempt();
        if (failure === null) {
          const wasDown = this.#state === "down";
          this.#state = "up";
          if (wasDown) {
            this.reconnects++;
            this.#o.onState(true, "reconnected");
          }
          this.#wake();
          return;
        }
        if (this.#state === "connecting") {
          // The first connection failed: say so once, as a lost connection would.
          this.#state = "down";
          this.#o.onState(false, failure);
          this.#wake();
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.#o.backoffMaxMs);
      }
    } finally {
      this.#probing = false;
    }
  }

  /**
   * PING on the current connection if it still looks open (a paused server), else a new one.
   * `null` when the server answered, else why not.
   */
  async #attempt(): Promise<string | null> {
    const t = this.#o.connectTimeoutMs;
    const old = this.#client;
    if (old?.reads.connected && old.raw.connected) {
      const ping = await withTimeout(Promise.all([old.reads.send("PING", []), old.raw.send("PING", [])]), t);
      if (ping.ok) return null;
    }
    closeBoth(old);
    this.#client = null;
    if (this.#state === "closed") return "closed";
    const reads = new RespClient(this.#o.url, {
      maxBulkBytes: this.#o.maxValueBytes,
      maxSkipBytes: MAX_REDIS_BULK_BYTES,
    });
    const raw = new RespClient(this.#o.url, { maxBulkBytes: this.#o.maxRawBulkBytes ?? 64 * 1024 });
    const client: Clients = { raw, reads };
    const lost = (reason: string) => {
      if (client === this.#client) this.#open(reason);
    };
    reads.onclose = lost;
    raw.onclose = lost;
    const ok = await withTimeout(
      Promise.all([
        reads.connect().then(() => reads.send("PING", [])),
        raw.connect().then(() => raw.send("PING", [])),
      ]),
      t,
    );
    if (!ok.ok || (this.#state as State) === "closed") {
      closeBoth(client);
      return ok.ok ? "closed" : `${ok.fault}: ${ok.detail}`;
    }
    this.#client = client;
    return null;
  }
}

function closeBoth(clients: Clients | null): void {
  clients?.reads.close();
  clients?.raw.close();
}

/** The URL without a password, for warning lines. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable url)";
  }
}
