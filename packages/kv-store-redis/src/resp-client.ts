/**
 * A small Redis client over one `Bun.connect` socket (TCP, or TLS for rediss:// and valkeys://)
 * for the store's hot path: commands issued in one tick leave in as few writes as the socket
 * takes (pipelining), block values are written from the caller's buffer without being copied
 * into a command string, and each bulk reply is read straight into one buffer of exactly its
 * length, allocated only after that length was checked against `maxBulkBytes`.
 *
 * It has no timeouts, retries or offline queue of its own: `RedisConnection` bounds every call
 * and owns the one reconnect policy. A framing error in a reply, or a lost connection, fails
 * every command in flight with a connection error and closes the socket (nothing after a
 * framing error can be matched to its command); a server error reply fails its command only.
 */
import type { Socket } from "bun";
import { CommandWriter, OversizedReply, type Reply, ReplyParser, ServerReplyError } from "./resp.ts";

export class RespConnectionError extends Error {
  readonly code = "ERR_REDIS_CONNECTION_CLOSED";
}

export interface RespClientOptions {
  /** The largest bulk reply accepted, in bytes. */
  readonly maxBulkBytes: number;
  /**
   * Longer bulk replies up to this many bytes are read past without being stored (`getBuffer`
   * returns an `OversizedReply`); longer still closes the connection. Default `maxBulkBytes`.
   */
  readonly maxSkipBytes?: number;
}

interface Pending {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (e: Error) => void;
}

export class RespClient {
  readonly #url: URL;
  readonly #parser: ReplyParser;
  readonly #writer = new CommandWriter();
  readonly #pending: Pending[] = [];
  #pendingHead = 0;
  /** Chunks waiting for the socket to take them (after a short write), the first maybe in part. */
  #out: Uint8Array[] = [];
  #socket: Socket | null = null;
  #flushQueued = false;
  #closed = false;
  /** Called once, with why, when the connection closes for any reason but `close()`. */
  onclose: ((reason: string) => void) | null = null;

  constructor(url: string, options: RespClientOptions) {
    this.#url = new URL(url);
    this.#parser = new ReplyParser(
      {
        maxBulkBytes: options.maxBulkBytes,
        maxSkipBytes: options.maxSkipBytes,
        // Bun hands each socket read to `data` in a buffer of its own, never reused.
        retainChunks: true,
        maxLineBytes: 64 * 1024,
        maxArrayLength: 1 << 16,
        maxDepth: 4,
      },
      (reply) => this.#settle(reply),
    );
  }

  get connected(): boolean {
    return this.#socket !== null && !this.#closed;
  }

  /** Opens the socket, then AUTH and SELECT when the URL asks for them. */
  async connect(): Promise<void> {
    const u = this.#url;
    const tls = u.protocol === "rediss:" || u.protocol === "valkeys:";
    const socket = await Bun.connect({
      hostname: u.hostname.replace(/^\[|\]$/g, ""),
      port: Number(u.port || 6379),
      tls,
      socket: {
        data: (_s, chunk) => this.#data(chunk),
        drain: () => this.#drain(),
        close: () => this.#lost("connection closed"),
        error: (_s, e) => this.#lost(`socket error: ${e.message}`),
      },
    });
    if (this.#closed) {
      socket.terminate();
      throw new RespConnectionError("closed while connecting");
    }
    socket.setNoDelay(true);
    this.#socket = socket;
    if (u.password !== "") {
      const user = decodeURIComponent(u.username);
      const pass = decodeURIComponent(u.password);
      await this.send("AUTH", user === "" ? [pass] : [user, pass]);
    }
    const db = u.pathname.replace(/^\//, "");
    if (db !== "" && db !== "0") await this.send("SELECT", [db]);
  }

  /** One command; resolves with its reply, rejects on a server error or a lost connection. */
  send(command: string, args: ReadonlyArray<string | Uint8Array>): Promise<Reply> {
    if (!this.connected) return Promise.reject(new RespConnectionError("not connected"));
    return new Promise<Reply>((resolve, reject) => {
      this.#writer.command([command, ...args]);
      this.#pending.push({ resolve, reject });
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  /**
   * GET as bytes (`null` when absent; an `OversizedReply` when longer than maxBulkBytes, its
   * bytes dropped unread); a reply that is not a bulk string is a server-side type error.
   */
  async getBuffer(key: string): Promise<Uint8Array | OversizedReply | null> {
    const r = await this.send("GET", [key]);
    if (r === null || r instanceof Uint8Array || r instanceof OversizedReply) return r;
    throw new ServerReplyError(`unexpected reply type to GET: ${typeof r}`);
  }

  /** SET with options; `"OK"` when stored, `null` when NX kept an existing value. */
  async set(key: string, value: Uint8Array, ...options: string[]): Promise<"OK" | null> {
    const r = await this.send("SET", [key, value, ...options]);
    if (r === "OK" || r === null) return r;
    throw new ServerReplyError(`unexpected reply to SET: ${typeof r}`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.terminate();
    this.#socket = null;
    this.#failAll("connection closed by the client");
  }

  #flush(): void {
    this.#flushQueued = false;
    const chunks = this.#writer.take();
    if (this.#out.length > 0) {
      // Still waiting for the socket to drain: keep the order.
      this.#out.push(...chunks);
      return;
    }
    this.#out = chunks;
    this.#drain();
  }

  /** Writes queued chunks until the socket takes less than offered (then waits for `drain`). */
  #drain(): void {
    const socket = this.#socket;
    if (socket === null || this.#closed) return;
    let i = 0;
    for (; i < this.#out.length; i++) {
      const chunk = this.#out[i]!;
      const n = socket.write(chunk);
      if (n < chunk.length) {
        if (n < 0) {
          this.#lost("write failed");
          return;
        }
        this.#out[i] = chunk.subarray(n);
        break;
      }
    }
    this.#out = i === this.#out.length ? [] : this.#out.slice(i);
  }

  #data(chunk: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#parser.push(chunk);
    } catch (e) {
      this.#lost(e instanceof Error ? e.message : String(e));
    }
  }

  #settle(reply: Reply): void {
    if (this.#pendingHead >= this.#pending.length) {
      throw new RespConnectionError("a reply nobody asked for");
    }
    const p = this.#pending[this.#pendingHead++]!;
    if (this.#pendingHead === this.#pending.length) {
      this.#pending.length = 0;
      this.#pendingHead = 0;
    }
    if (reply instanceof ServerReplyError) p.reject(reply);
    else p.resolve(reply);
  }

  #lost(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.terminate();
    this.#socket = null;
    this.#failAll(reason);
    this.onclose?.(reason);
  }

  #failAll(reason: string): void {
    const pending = this.#pending.splice(this.#pendingHead);
    this.#pending.length = 0;
    this.#pendingHead = 0;
    this.#out = [];
    for (const p of pending) p.reject(new RespConnectionError(reason));
  }
}
