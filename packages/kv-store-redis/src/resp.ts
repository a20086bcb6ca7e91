/**
 * RESP2, the Redis wire protocol, for the few commands the store sends: an encoder that lays
 * out a command's small parts in one staging buffer and hands large binary arguments (block
 * values) to the socket as they are, and an incremental parser for replies.
 *
 * Replies come from the network, so the parser trusts nothing: every length is checked
 * against a limit before anything is allocated (a bulk string's length against the store's
 * largest value, an array's count, a line's length, the nesting depth), and any byte that is
 * not RESP2 ends the stream with an `LlmemError` (`FORMAT_ERROR`) — the caller then drops the
 * connection, since nothing after a framing error can be matched to its command.
 */
import { LlmemError } from "@llmem/core";

/** A server error reply (`-ERR …`): belongs to one command, the stream stays usable. */
export class ServerReplyError extends Error {
  readonly code = "ERR_REDIS_SERVER_ERROR";
}

/**
 * A bulk string longer than `maxBulkBytes` but within `maxSkipBytes`: its bytes were read and
 * dropped, never stored, so a value too large for the caller costs a miss, not the connection.
 */
export class OversizedReply {
  /** Not structurally a string (which also has a numeric `length`). */
  readonly oversized = true;
  constructor(readonly length: number) {}
}

/** Bulk strings are bytes (`null` when absent); simple strings are text; integers are numbers. */
export type Reply = string | number | Uint8Array | null | OversizedReply | ServerReplyError | Reply[];

export interface ReplyLimits {
  /** Largest bulk string stored (bytes); never an allocation past it. */
  readonly maxBulkBytes: number;
  /**
   * Longer bulk strings up to this many bytes are skipped as they arrive and reported as an
   * `OversizedReply`; longer still is a framing error. Default `maxBulkBytes` (no skipping).
   */
  readonly maxSkipBytes?: number;
  /**
   * The caller never writes to a chunk after pushing it (a socket's fresh buffer per read), so
   * a bulk string lying whole inside one chunk is returned as a view of it, not copied.
   */
  readonly retainChunks?: boolean;
  /** Largest simple string, error or integer line (bytes, without CRLF). */
  readonly maxLineBytes: number;
  /** Most elements in one array reply. */
  readonly maxArrayLength: number;
  /** Deepest nesting of arrays. */
  readonly maxDepth: number;
}

const CR = 13;
const LF = 10;

interface OpenArray {
  readonly items: Reply[];
  remaining: number;
}

function protocolError(message: string): LlmemError {
  return new LlmemError("FORMAT_ERROR", `malformed reply from redis: ${message}`, { source: "redis" });
}

/**
 * Push chunks in as they arrive; each complete top-level reply goes to `onReply` in order.
 * After a thrown `FORMAT_ERROR` the parser refuses further input (the stream is lost).
 */
export class ReplyParser {
  readonly #limits: ReplyLimits;
  readonly #onReply: (reply: Reply) => void;
  /** Bytes of a header line split across chunks (bounded by maxLineBytes + 2). */
  #line: Uint8Array;
  #lineLength = 0;
  /** A bulk string being filled, how much of it is, and whether its CRLF is still due. */
  #bulk: Uint8Array | null = null;
  #bulkFilled = 0;
  /** A bulk string's length, read from its header, before its first byte was looked at. */
  #bulkWanted = 0;
  /** Bytes of an oversized bulk string still to drop. */
  #skipLeft = 0;
  #crlfDue = 0;
  /** A bulk string read in full, emitted once its CRLF has been checked. */
  #pendingValue: Uint8Array | OversizedReply | null = null;
  readonly #stack: OpenArray[] = [];
  #broken = false;

  constructor(limits: ReplyLimits, onReply: (reply: Reply) => void) {
    this.#limits = limits;
    this.#onReply = onReply;
    this.#line = new Uint8Array(Math.min(limits.maxLineBytes + 2, 64 * 1024));
  }

  push(chunk: Uint8Array): void {
    if (this.#broken) throw protocolError("input after a framing error");
    try {
      this.#consume(chunk);
    } catch (e) {
      this.#broken = true;
      throw e;
    }
  }

  #consume(chunk: Uint8Array): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.#skipLeft > 0) {
        const take = Math.min(this.#skipLeft, end - pos);
        this.#skipLeft -= take;
        pos += take;
        if (this.#skipLeft === 0) this.#crlfDue = 2; // #pendingValue holds the OversizedReply
        continue;
      }
      if (this.#bulkWanted > 0) {
        const n = this.#bulkWanted;
        this.#bulkWanted = 0;
        if (this.#limits.retainChunks === true && end - pos >= n) {
          this.#pendingValue = new Uint8Array(chunk.buffer, chunk.byteOffset + pos, n);
          this.#crlfDue = 2;
          pos += n;
          continue;
        }
        this.#bulk = n > 4096 ? uninitialized(n) : new Uint8Array(n);
        this.#bulkFilled = 0;
      }
      if (this.#bulk !== null) {
        const take = Math.min(this.#bulk.length - this.#bulkFilled, end - pos);
        this.#bulk.set(chunk.subarray(pos, pos + take), this.#bulkFilled);
        this.#bulkFilled += take;
        pos += take;
        if (this.#bulkFilled === this.#bulk.length) {
          this.#crlfDue = 2;
          const done = this.#bulk;
          this.#bulk = null;
          this.#pendingValue = done;
        }
        continue;
      }
      if (this.#crlfDue > 0) {
        const want = this.#crlfDue === 2 ? CR : LF;
        if (chunk[pos] !== want) throw protocolError("bulk string not followed by CRLF");
        pos++;
        if (--this.#crlfDue === 0) {
          const value = this.#pendingValue;
          this.#pendingValue = null;
          this.#emit(value);
        }
        continue;
      }
      // A header line: find its CRLF in this chunk, else keep what there is for the next one.
      let lf = chunk.indexOf(LF, pos);
      const limit = this.#limits.maxLineBytes + 2;
      if (lf === -1 || this.#lineLength + (lf - pos + 1) > limit) {
        const avail = lf === -1 ? end - pos : lf - pos + 1;
        if (this.#lineLength + avail > limit)
          throw protocolError(`a line longer than ${this.#limits.maxLineBytes} bytes`);
        if (lf === -1) {
          this.#appendLine(chunk.subarray(pos, end));
          return;
        }
      }
      let line: Uint8Array;
      if (this.#lineLength > 0) {
        this.#appendLine(chunk.subarray(pos, lf + 1));
        line = this.#line.subarray(0, this.#lineLength);
        this.#lineLength = 0;
      } else {
        line = chunk.subarray(pos, lf + 1);
      }
      pos = lf + 1;
      lf = line.length - 1;
      if (lf < 2 || line[lf - 1] !== CR) throw protocolError("a line not ended by CRLF");
      this.#header(line[0]!, line.subarray(1, lf - 1));
    }
  }

  #appendLine(bytes: Uint8Array): void {
    if (this.#lineLength + bytes.length > this.#line.length) {
      const grown = new Uint8Array(
        Math.min(this.#limits.maxLineBytes + 2, 2 * (this.#lineLength + bytes.length)),
      );
      grown.set(this.#line.subarray(0, this.#lineLength));
      this.#line = grown;
    }
    this.#line.set(bytes, this.#lineLength);
    this.#lineLength += bytes.length;
  }

  #header(type: number, body: Uint8Array): void {
    switch (type) {
      case 0x2b: // '+' simple string
        this.#emit(latin1(body));
        return;
      case 0x2d: // '-' error
        this.#emit(new ServerReplyError(latin1(body.subarray(0, 512))));
        return;
      case 0x3a: // ':' integer
        this.#emit(parseInteger(body, -(2 ** 53) + 1, 2 ** 53 - 1, "integer"));
        return;
      case 0x24: {
        // '$' bulk string: the length is checked before the buffer exists.
        const max = this.#limits.maxBulkBytes;
        const n = parseInteger(
          body,
          -1,
          Math.max(max, this.#limits.maxSkipBytes ?? max),
          "bulk string length",
        );
        if (n === -1) this.#emit(null);
        else if (n > max) {
          this.#pendingValue = new OversizedReply(n);
          this.#skipLeft = n;
        } else if (n === 0) {
          this.#pendingValue = new Uint8Array(0);
          this.#crlfDue = 2;
        } else {
          this.#bulkWanted = n;
        }
        return;
      }
      case 0x2a: {
        // '*' array
        const n = parseInteger(body, -1, this.#limits.maxArrayLength, "array length");
        if (n === -1) this.#emit(null);
        else if (n === 0) this.#emit([]);
        else {
          if (this.#stack.length >= this.#limits.maxDepth) {
            throw protocolError(`arrays nested deeper than ${this.#limits.maxDepth}`);
          }
          this.#stack.push({ items: [], remaining: n });
        }
        return;
      }
      default:
        throw protocolError(`unknown reply type byte ${type}`);
    }
  }

  #emit(reply: Reply): void {
    let value = reply;
    for (;;) {
      const top = this.#stack.at(-1);
      if (top === undefined) {
        this.#onReply(value);
        return;
      }
      top.items.push(value);
      if (--top.remaining > 0) return;
      this.#stack.pop();
      value = top.items;
    }
  }
}

function uninitialized(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Decimal digits with an optional '-', within [min, max]; anything else is a framing error. */
function parseInteger(body: Uint8Array, min: number, max: number, what: string): number {
  const negative = body[0] === 0x2d;
  const start = negative ? 1 : 0;
  if (body.length === start || body.length - start > 16) throw protocolError(`${what} is not a number`);
  let n = 0;
  for (let i = start; i < body.length; i++) {
    const d = body[i]! - 0x30;
    if (d < 0 || d > 9) throw protocolError(`${what} is not a number`);
    n = n * 10 + d;
  }
  if (negative) n = -n;
  if (n < min || n > max) throw protocolError(`${what} ${n} outside [${min}, ${max}]`);
  return n;
}

/** Arguments at least this long are handed to the socket as they are, not copied into a stage. */
export const DIRECT_BYTES = 16 * 1024;
const STAGE_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/**
 * Turns commands into the chunks to write: small parts are copied into 64 KiB stages (one
 * write for many commands), large binary arguments are passed through untouched (the caller
 * must not change them until the command's reply has arrived).
 */
export class CommandWriter {
  readonly #chunks: Uint8Array[] = [];
  #stage = new Uint8Array(STAGE_BYTES);
  #used = 0;

  /** Appends one command; arguments are strings (UTF-8) or bytes. */
  command(args: ReadonlyArray<string | Uint8Array>): void {
    let text = `*${args.length}\r\n`;
    for (const arg of args) {
      if (typeof arg === "string") {
        text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      } else {
        text += `$${arg.length}\r\n`;
        if (arg.length < DIRECT_BYTES) {
          this.#text(text);
          this.#bytes(arg);
          text = "\r\n";
        } else {
          this.#text(text);
          this.#cut();
          this.#chunks.push(arg);
          text = "\r\n";
        }
      }
    }
    this.#text(text);
  }

  /** The chunks to write, in order; the writer starts empty again. */
  take(): Uint8Array[] {
    this.#cut();
    return this.#chunks.splice(0);
  }

  #text(text: string): void {
    if (text.length === 0) return;
    // Worst case 3 bytes per UTF-16 unit; short texts go straight into the stage.
    if (this.#used + text.length * 3 > this.#stage.length) {
      this.#cut();
      if (text.length * 3 > this.#stage.length) {
        this.#chunks.push(encoder.encode(text));
        return;
      }
    }
    this.#used += encoder.encodeInto(text, this.#stage.subarray(this.#used)).written;
  }

  #bytes(bytes: Uint8Array): void {
    if (this.#used + bytes.length > this.#stage.length) this.#cut();
    this.#stage.set(bytes, this.#used);
    this.#used += bytes.length;
  }

  /** Closes the current stage into a chunk; the next parts go into a fresh one. */
  #cut(): void {
    if (this.#used === 0) return;
    this.#chunks.push(this.#stage.subarray(0, this.#used));
    this.#stage = new Uint8Array(STAGE_BYTES);
    this.#used = 0;
  }
}
