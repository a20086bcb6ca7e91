/**
 * RedisKvStore: prefix KV blocks in Redis or Valkey, keyed by chain hash, shared by every
 * process and host that uses the same model, KV format and block size.
 *
 * The contract towards a decode loop: no call throws for anything the network or the server
 * does, and none waits longer than its timeout. A fault, a timeout or a value that fails
 * verification is a miss, counted in `stats()` and reported by at most one warning line per
 * interval and kind. Only bad arguments throw (`LlmemError`), synchronously, before any I/O.
 */
import { checkInt, checkSize, LlmemError } from "@llmem/core";
import { MAX_REDIS_BULK_BYTES, type Outcome, RedisConnection, redactUrl } from "./connection.ts";
import { KeyBuilder, type KeySpace } from "./keys.ts";
import { OversizedReply } from "./resp.ts";
import { BlockCodec, HEADER_BYTES, payloadOf, type Verdict } from "./value-format.ts";
import { ValuePool } from "./value-pool.ts";
import { RateLimitedWarner, type WarnSink } from "./warn.ts";
import { type QueuedWrite, WriteQueue } from "./write-queue.ts";

export interface RedisKvStoreOptions extends KeySpace {
  /** `redis://`, `rediss://`, `valkey://` or `valkeys://` URL: the only server this store connects to. */
  readonly url: string;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Lifetime of a stored block (`SET … PX`); default 24 h. */
  readonly ttlMs?: number;
  /** Timeout of `longestPrefix`, and of `getBlocks` before the allowance for its bytes; default 100 ms. */
  readonly readTimeoutMs?: number;
  /**
   * `getBlocks` also gets this many ms per MiB it expects to read (blocks asked × the largest
   * value seen), so a long prefix from a healthy server is not taken for a dead one; default 10
   * (a 100 MB/s floor).
   */
  readonly readMsPerMiB?: number;
  /** Timeout of one batch of queued writes; default 2,000 ms. */
  readonly writeTimeoutMs?: number;
  /** Timeout of one connection attempt (connect and PING); default 500 ms. */
  readonly connectTimeoutMs?: number;
  /** Reconnect backoff: first and largest wait between attempts; default 50 ms and 5,000 ms. */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /** Bytes of encoded blocks waiting to be written at most; past it writes are dropped. Default 256 MiB. */
  readonly queueBytes?: number;
  /** Bytes per pipelined write batch at most (one block is always allowed); default 16 MiB. */
  readonly maxBatchBytes?: number;
  /**
   * The largest stored value (64-byte header + payload) a read accepts and a write may produce;
   * default 64 MiB, at most 512 MiB (Redis's own limit). A longer value on the server is
   * dropped unread as it arrives, refused (a miss, counted as corrupt) and deleted: a server
   * cannot make a read allocate more than this.
   */
  readonly maxValueBytes?: number;
  /** Hashes per `longestPrefix`/`getBlocks` call at most; default 4,096. */
  readonly maxBlocksPerCall?: number;
  /** Calls in flight at most (reads and write batches); more are misses. Default 16. */
  readonly maxInflight?: number;
  /** At most one warning line per kind (connection, corrupt value, writes) per interval; default 30 s. */
  readonly warnIntervalMs?: number;
  /** Where warning lines go; default `console.warn`. */
  readonly onWarn?: WarnSink;
}

export interface KvStoreStats {
  /** Blocks `getBlocks` returned (verified). */
  hits: number;
  /** Blocks `getBlocks` was asked for and did not return (absent, refused, or a fault). */
  misses: number;
  /** Values refused by verification (each also a miss). */
  corrupt: number;
  /** `longestPrefix` calls, and the blocks they reported present. */
  lookups: number;
  lookupBlocks: number;
  /** Calls that timed out. */
  timeouts: number;
  /** Calls refused while disconnected or at `maxInflight`, and calls the server or connection failed. */
  unavailable: number;
  errors: number;
  /** Blocks stored; blocks already there (write-once: `SET NX` kept the first); writes that failed. */
  writes: number;
  writesExisting: number;
  writeFailures: number;
  /** Writes dropped: the queue was full, the server was unreachable when their turn came, or close() cut them off. */
  dropped: number;
  /** Value bytes read from and written to the server. */
  bytesIn: number;
  bytesOut: number;
  /** Encoded bytes waiting in the write queue or being sent. */
  queuedBytes: number;
  connected: boolean;
  reconnects: number;
  warnings: number;
}

/** Counts the leading keys that exist, stopping at the first that does not: one integer back. */
export const LONGEST_PREFIX_LUA =
  "local n = 0 for i = 1, #KEYS do if redis.call('EXISTS', KEYS[i]) == 0 then break end n = i end return n";
const LONGEST_PREFIX_SHA = new Bun.CryptoHasher("sha1").update(LONGEST_PREFIX_LUA).digest("hex");

const PROTOCOLS = new Set(["redis:", "rediss:", "valkey:", "valkeys:"]);
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_CALL_BLOCKS = 1 << 16;
const NOT_A_STRING = new Uint8Array(0); // fails verification as "not-a-block"

export class RedisKvStore {
  readonly #keys: KeyBuilder;
  readonly #codec: BlockCodec;
  readonly #conn: RedisConnection;
  readonly #queue: WriteQueue;
  readonly #pool: ValuePool;
  readonly #ttl: string;
  readonly #readTimeout: number;
  readonly #readMsPerByte: number;
  /** The largest value written or read: what one block of this store costs to read. */
  #valueBytes = 0;
  readonly #writeTimeout: number;
  readonly #connectTimeout: number;
  readonly #maxBlocks: number;
  readonly #maxValueBytes: number;
  readonly #url: string;
  readonly #warnConn: RateLimitedWarner;
  readonly #warnCorrupt: RateLimitedWarner;
  readonly #warnWrites: RateLimitedWarner;
  readonly #s = {
    hits: 0,
    misses: 0,
    corrupt: 0,
    lookups: 0,
    lookupBlocks: 0,
    timeouts: 0,
    unavailable: 0,
    errors: 0,
    writes: 0,
    writesExisting: 0,
    writeFailures: 0,
    dropped: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  #closed = false;

  constructor(options: RedisKvStoreOptions) {
    this.#url = checkUrl(options.url);
    this.#keys = new KeyBuilder(options);
    this.#codec = new BlockCodec({
      numLayers: options.numLayers,
      numKvHeads: options.numKvHeads,
      headDim: options.headDim,
      kvFormat: options.kvFormat,
      blockSize: options.blockSize,
    });
    this.#ttl = String(checkInt("ttlMs", options.ttlMs ?? DAY_MS, 1, 365 * DAY_MS));
    this.#readTimeout = checkInt("readTimeoutMs", options.readTimeoutMs ?? 100, 1, 60_000);
    this.#readMsPerByte = checkInt("readMsPerMiB", options.readMsPerMiB ?? 10, 0, 60_000) / 2 ** 20;
    this.#writeTimeout = checkInt("writeTimeoutMs", options.writeTimeoutMs ?? 2000, 1, 600_000);
    this.#maxBlocks = checkInt("maxBlocksPerCall", options.maxBlocksPerCall ?? 4096, 1, MAX_CALL_BLOCKS);
    this.#maxValueBytes = checkInt(
      "maxValueBytes",
      options.maxValueBytes ?? 64 * 2 ** 20,
      HEADER_BYTES,
      MAX_REDIS_BULK_BYTES,
    );
    const backoffMin = checkInt("backoffMinMs", options.backoffMinMs ?? 50, 1, 60_000);
    const backoffMax = checkInt("backoffMaxMs", options.backoffMaxMs ?? 5000, backoffMin, 600_000);
    const queueBytes = checkSize("queueBytes", options.queueBytes ?? 256 * 2 ** 20, 2 ** 40);
    const maxBatchBytes = checkInt("maxBatchBytes", options.maxBatchBytes ?? 16 * 2 ** 20, 1, 2 ** 40);
    const warnInterval = checkSize("warnIntervalMs", options.warnIntervalMs ?? 30_000, 86_400_000);
    const sink = options.onWarn ?? ((line: string) => console.warn(line));
    this.#warnConn = new RateLimitedWarner(sink, warnInterval);
    this.#warnCorrupt = new RateLimitedWarner(sink, warnInterval);
    this.#warnWrites = new RateLimitedWarner(sink, warnInterval);
    this.#queue = new WriteQueue(queueBytes, maxBatchBytes, (batch) => this.#sendBatch(batch));
    this.#pool = new ValuePool(Math.min(queueBytes, 32 * 2 ** 20));
    this.#connectTimeout = checkInt("connectTimeoutMs", options.connectTimeoutMs ?? 500, 1, 60_000);
    this.#conn = new RedisConnection({
      url: this.#url,
      connectTimeoutMs: this.#connectTimeout,
      backoffMinMs: backoffMin,
      backoffMaxMs: backoffMax,
      maxInflight: checkInt("maxInflight", options.maxInflight ?? 16, 1, 4096),
      maxValueBytes: this.#maxValueBytes,
      onState: (up, reason) => {
        if (!up) {
          this.#warnConn.warn(
            `redis at ${redactUrl(this.#url)} is not answering (${reason}); store calls are misses until it does`,
          );
        }
      },
    });
  }

  /** The key a block with chain hash `hash` is stored under. */
  key(hash: bigint): string {
    return this.#keys.key(hash);
  }

  /**
   * Resolves `true` once connected; `false` when the first connection attempt failed or
   * `timeoutMs` passed (the store keeps retrying in the background). Calls made before the
   * connection is up are misses.
   */
  ready(timeoutMs = 1000): Promise<boolean> {
    return this.#conn.ready(checkInt("timeoutMs", timeoutMs, 0, 600_000));
  }

  /**
   * Queues a block for writing and returns at once; `false` when the queue was full (the write
   * is dropped and counted). The payload is copied into the encoded value now, so the caller
   * may reuse its buffer. Write-once: if the key exists, the stored block stays.
   */
  putAsync(hash: bigint, tokenFingerprint: bigint, payload: Uint8Array): boolean {
    const key = this.#keys.key(hash);
    checkFingerprint("tokenFingerprint", tokenFingerprint);
    if (!(payload instanceof Uint8Array)) {
      throw new LlmemError("INVALID_ARGUMENT", `payload must be a Uint8Array, got ${typeof payload}`, {
        argument: "payload",
      });
    }
    const size = HEADER_BYTES + payload.length;
    if (size > this.#maxValueBytes) {
      // Never write what a read would refuse.
      throw new LlmemError(
        "OUT_OF_RANGE",
        `payload of ${payload.length} bytes makes a value above maxValueBytes ${this.#maxValueBytes}`,
        { argument: "payload", value: payload.length, max: this.#maxValueBytes - HEADER_BYTES },
      );
    }
    if (this.#closed) return false;
    const value = this.#codec.encode(key, tokenFingerprint, payload, this.#pool.take(size));
    if (value.length > this.#valueBytes) this.#valueBytes = value.length;
    if (this.#queue.offer({ key, value })) return true;
    this.#pool.give(value);
    this.#s.dropped++;
    this.#warnWrites.warn(`write queue full (${this.#queue.bytes} bytes queued): writes are being dropped`);
    return false;
  }

  /** Resolves when every write queued so far has been stored, refused or dropped (each bounded by the write timeout). */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  /**
   * How many leading blocks of `hashes` are stored, in one round trip (a Lua script that stops
   * at the first absent key). An upper bound: `getBlocks` verifies and may return fewer. A
   * fault is 0.
   */
  longestPrefix(hashes: ArrayLike<bigint>): Promise<number> {
    // Not `async`: a bad argument throws here, synchronously, rather than rejecting later.
    const keys = this.#keyList(hashes);
    return keys.length === 0 ? Promise.resolve(0) : this.#lookup(keys);
  }

  async #lookup(keys: string[]): Promise<number> {
    this.#s.lookups++;
    const outcome = await this.#conn.run(this.#readTimeout, async (c) => {
      try {
        return await c.raw.send("EVALSHA", [LONGEST_PREFIX_SHA, String(keys.length), ...keys]);
      } catch (e) {
        // The script cache is empty after a restart or SCRIPT FLUSH: send the body once.
        if (!String((e as Error).message).startsWith("NOSCRIPT")) throw e;
        return await c.raw.send("EVAL", [LONGEST_PREFIX_LUA, String(keys.length), ...keys]);
      }
    });
    if (!this.#ok(outcome)) return 0;
    const n = Number(outcome.value);
    if (!Number.isInteger(n) || n < 0 || n > keys.length) {
      this.#s.errors++;
      this.#warnConn.warn(`unexpected reply to the prefix lookup: ${String(outcome.value).slice(0, 40)}`);
      return 0;
    }
    this.#s.lookupBlocks += n;
    return n;
  }

  /**
   * Reads the blocks of `hashes` in one round trip (pipelined binary GETs) and returns the
   * payloads of the verified leading run: it stops at the first block that is absent or fails
   * a check. `tokenFingerprints[i]` is block i's `tokenFingerprint`. A fault returns `[]`.
   */
  getBlocks(hashes: ArrayLike<bigint>, tokenFingerprints: ArrayLike<bigint>): Promise<Uint8Array[]> {
    const keys = this.#keyList(hashes);
    if (tokenFingerprints?.length !== keys.length) {
      throw new LlmemError(
        "INVALID_ARGUMENT",
        `tokenFingerprints must have one entry per hash (${keys.length}), got ${tokenFingerprints?.length}`,
        { argument: "tokenFingerprints", expected: keys.length },
      );
    }
    for (let i = 0; i < keys.length; i++) checkFingerprint(`tokenFingerprints[${i}]`, tokenFingerprints[i]);
    return keys.length === 0 ? Promise.resolve([]) : this.#read(keys, tokenFingerprints);
  }

  async #read(keys: string[], tokenFingerprints: ArrayLike<bigint>): Promise<Uint8Array[]> {
    const timeout = this.#readTimeout + Math.ceil(keys.length * this.#valueBytes * this.#readMsPerByte);
    const outcome = await this.#conn.run(timeout, (c) =>
      Promise.all(
        keys.map((k) =>
          // A server error for one key (WRONGTYPE: something that is not a string was put
          // there) refuses that block, like any other value that is not a block.
          c.reads.getBuffer(k).catch((e: { code?: string }) => {
            if (e?.code === "ERR_REDIS_SERVER_ERROR") return NOT_A_STRING;
            throw e;
          }),
        ),
      ),
    );
    if (!this.#ok(outcome)) {
      this.#s.misses += keys.length;
      return [];
    }
    const out: Uint8Array[] = [];
    for (let i = 0; i < keys.length; i++) {
      const value = outcome.value[i];
      if (value == null) break;
      if (value instanceof OversizedReply) {
        // Longer than maxValueBytes: its bytes were dropped as they arrived, never stored.
        this.#refuse(keys[i]!, "length");
        break;
      }
      this.#s.bytesIn += value.length;
      const verdict = this.#codec.verify(value, keys[i]!, tokenFingerprints[i]!);
      if (verdict !== "ok") {
        this.#refuse(keys[i]!, verdict);
        break;
      }
      out.push(payloadOf(value));
      if (value.length > this.#valueBytes) this.#valueBytes = value.length; // verified sizes only
    }
    this.#s.hits += out.length;
    this.#s.misses += keys.length - out.length;
    return out;
  }

  stats(): KvStoreStats {
    return {
      ...this.#s,
      queuedBytes: this.#queue.bytes,
      connected: this.#conn.up,
      reconnects: this.#conn.reconnects,
      warnings: this.#warnConn.lines + this.#warnCorrupt.lines + this.#warnWrites.lines,
    };
  }

  /** Disconnects; queued writes not yet sent are dropped (call `flush()` first to keep them). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#s.dropped += this.#queue.clear();
    this.#conn.close();
  }

  #keyList(hashes: ArrayLike<bigint>): string[] {
    const n = checkInt("hashes length", hashes?.length, 0, this.#maxBlocks);
    const keys = new Array<string>(n);
    for (let i = 0; i < n; i++) keys[i] = this.#keys.key(hashes[i]!, `hashes[${i}]`);
    return keys;
  }

  /** Counts a failed call; the connection has already opened its breaker if it should. */
  #ok<T>(outcome: Outcome<T>): outcome is { ok: true; value: T } {
    if (outcome.ok) return true;
    if (outcome.fault === "timeout") this.#s.timeouts++;
    else if (outcome.fault === "unavailable" || outcome.fault === "busy") this.#s.unavailable++;
    else {
      this.#s.errors++;
      this.#warnConn.warn(`redis ${outcome.fault} error: ${outcome.detail}`);
    }
    return false;
  }

  #refuse(key: string, verdict: Verdict): void {
    this.#s.corrupt++;
    this.#warnCorrupt.warn(`refused the value under ${key} (${verdict} check failed): treated as a miss`);
    // A damaged value (bad checksum, length or header, or another key's bytes) is useless to
    // every reader, and write-once would keep it until its TTL: delete it so the next writer
    // can store a good one. A layout or token mismatch may be a valid block for someone else
    // (another build, or a chain-hash collision), so it stays.
    if (verdict === "checksum" || verdict === "length" || verdict === "not-a-block" || verdict === "key") {
      void this.#conn.run(this.#writeTimeout, (c) => c.raw.send("DEL", [key]));
    }
  }

  async #sendBatch(batch: QueuedWrite[]): Promise<void> {
    if (this.#closed) return;
    // Writes queued right after construction wait for the first connection (bounded by its
    // timeout) instead of being dropped; later, a down server drops them at once.
    if (this.#conn.connecting) await this.#conn.ready(this.#connectTimeout);
    const outcome = await this.#conn.run(this.#writeTimeout, (c) =>
      Promise.all(
        batch.map((w) =>
          c.raw.set(w.key, w.value, "NX", "PX", this.#ttl).then(
            (reply) => (reply === "OK" ? "stored" : "exists"),
            // A server error (OOM under noeviction, a read-only replica) fails this write only;
            // a connection error rejects the batch so the breaker sees it.
            (e: { code?: string; message?: string }) => {
              if (e?.code === "ERR_REDIS_SERVER_ERROR") return `failed: ${e.message}`;
              throw e;
            },
          ),
        ),
      ),
    );
    if (!outcome.ok) {
      if (this.#closed) {
        // close() cut the connection under this batch: not a server fault, nothing to warn.
        this.#s.dropped += batch.length;
      } else if (outcome.fault === "unavailable" || outcome.fault === "busy") {
        // Counted, not warned: the connection's own warning already said the server is away.
        this.#s.dropped += batch.length;
        for (const w of batch) this.#pool.give(w.value); // never sent
      } else {
        this.#ok(outcome);
        this.#s.writeFailures += batch.length;
      }
      return;
    }
    // Every command of the batch has its reply, so the server has read every value: reuse
    // them. (After a timeout or a lost connection they may still be referenced: not reused.)
    for (const w of batch) this.#pool.give(w.value);
    let firstError = "";
    for (let i = 0; i < batch.length; i++) {
      const r = outcome.value[i]!;
      if (r === "stored") {
        this.#s.writes++;
        this.#s.bytesOut += batch[i]!.value.length;
      } else if (r === "exists") {
        this.#s.writesExisting++;
      } else {
        this.#s.writeFailures++;
        firstError ||= r;
      }
    }
    if (firstError !== "") this.#warnWrites.warn(`writes refused by the server (${firstError})`);
  }
}

function checkUrl(url: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !PROTOCOLS.has(parsed.protocol) || parsed.hostname === "") {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `url must be a redis://, rediss://, valkey:// or valkeys:// URL with a host, got ${typeof url === "string" ? JSON.stringify(redactUrl(url)) : typeof url}`,
      { argument: "url" },
    );
  }
  return url as string;
}

function checkFingerprint(name: string, value: unknown): void {
  if (typeof value !== "bigint" || value < 0n || value >= 1n << 64n) {
    throw new LlmemError("INVALID_ARGUMENT", `${name} must be a bigint in [0, 2^64), got ${typeof value}`, {
      argument: name,
    });
  }
}
