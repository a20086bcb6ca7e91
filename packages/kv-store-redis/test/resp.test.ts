// The RESP reply parser and command writer, without a server: replies are untrusted bytes,
// so random, truncated and oversized input must end in replies or one FORMAT_ERROR — never
// another exception and never an allocation past the limits.
import { describe, expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import fc from "fast-check";
import {
  CommandWriter,
  DIRECT_BYTES,
  OversizedReply,
  type Reply,
  ReplyParser,
  ServerReplyError,
} from "../src/resp.ts";

const LIMITS = { maxBulkBytes: 4096, maxLineBytes: 256, maxArrayLength: 64, maxDepth: 3 };

/** Feeds `bytes` split at `cuts`; returns the replies, and the error if one was thrown. */
function parse(
  bytes: Uint8Array,
  cuts: number[] = [],
  limits = LIMITS,
): { replies: Reply[]; error: unknown } {
  const replies: Reply[] = [];
  const p = new ReplyParser(limits, (r) => replies.push(r));
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  try {
    for (const c of [...points, bytes.length]) {
      // A fresh buffer per chunk, as a socket delivers them (a view past its end would show).
      p.push(bytes.slice(at, c));
      at = c;
    }
  } catch (e) {
    return { replies, error: e };
  }
  return { replies, error: null };
}

const te = new TextEncoder();
const cat = (...parts: (string | Uint8Array)[]) => {
  const bufs = parts.map((p) => (typeof p === "string" ? te.encode(p) : p));
  const out = new Uint8Array(bufs.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of bufs) {
    out.set(b, o);
    o += b.length;
  }
  return out;
};

type Tree =
  | { t: "simple"; s: string }
  | { t: "int"; n: number }
  | { t: "bulk"; b: Uint8Array }
  | { t: "nil" }
  | { t: "err"; s: string }
  | { t: "arr"; items: Tree[] };

const line = fc.stringMatching(/^[ -~]{0,40}$/);
const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ t: fc.constant("simple" as const), s: line }),
    fc.record({ t: fc.constant("int" as const), n: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) }),
    fc.record({ t: fc.constant("bulk" as const), b: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ t: fc.constant("nil" as const) }),
    fc.record({ t: fc.constant("err" as const), s: line }),
    fc.record({ t: fc.constant("arr" as const), items: fc.array(tie("tree"), { maxLength: 4 }) }),
  ),
})).tree;

function encode(t: Tree): Uint8Array {
  switch (t.t) {
    case "simple":
      return cat(`+${t.s}\r\n`);
    case "int":
      return cat(`:${t.n}\r\n`);
    case "bulk":
      return cat(`$${t.b.length}\r\n`, t.b, "\r\n");
    case "nil":
      return cat("$-1\r\n");
    case "err":
      return cat(`-${t.s}\r\n`);
    case "arr":
      return cat(`*${t.items.length}\r\n`, ...t.items.map(encode));
  }
}

function depth(t: Tree): number {
  return t.t === "arr" ? 1 + Math.max(0, ...t.items.map(depth)) : 0;
}

function expected(t: Tree): unknown {
  switch (t.t) {
    case "simple":
      return t.s;
    case "int":
      return t.n;
    case "bulk":
      return Array.from(t.b);
    case "nil":
      return null;
    case "err":
      return `ERR:${t.s}`;
    case "arr":
      return t.items.map(expected);
  }
}

function plain(r: Reply): unknown {
  if (r instanceof Uint8Array) return Array.from(r);
  if (r instanceof OversizedReply) return `OVERSIZED:${r.length}`;
  if (r instanceof ServerReplyError) return `ERR:${r.message}`;
  if (Array.isArray(r)) return r.map(plain);
  return r;
}

function isFormatError(e: unknown): boolean {
  return e instanceof LlmemError && e.code === "FORMAT_ERROR";
}

describe("ReplyParser", () => {
  test("well-formed replies split anywhere parse back exactly, in order", () => {
    fc.assert(
      fc.property(
        fc.array(
          treeArb.filter((t) => depth(t) <= LIMITS.maxDepth),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(fc.nat(5000), { maxLength: 12 }),
        (trees, cuts) => {
          const { replies, error } = parse(cat(...trees.map(encode)), cuts);
          expect(error).toBeNull();
          expect(replies.map(plain)).toEqual(trees.map(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("bulks above maxBulkBytes within maxSkipBytes are skipped unstored, split anywhere; the stream goes on", () => {
    const small = 64;
    /** What the parser should report when bulks longer than `small` are skipped. */
    const skipped = (t: Tree): unknown =>
      t.t === "bulk" && t.b.length > small
        ? `OVERSIZED:${t.b.length}`
        : t.t === "arr"
          ? t.items.map(skipped)
          : expected(t);
    fc.assert(
      fc.property(
        fc.array(
          treeArb.filter((t) => depth(t) <= LIMITS.maxDepth),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(fc.nat(5000), { maxLength: 12 }),
        fc.boolean(),
        (trees, cuts, retainChunks) => {
          const limits = { ...LIMITS, maxBulkBytes: small, maxSkipBytes: 4096, retainChunks };
          const { replies, error } = parse(cat(...trees.map(encode)), cuts, limits);
          expect(error).toBeNull();
          expect(replies.map(plain)).toEqual(trees.map(skipped));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a truncated stream gives only the complete replies before the cut, and no error", () => {
    fc.assert(
      fc.property(
        fc.array(
          treeArb.filter((t) => depth(t) <= LIMITS.maxDepth),
          { minLength: 1, maxLength: 5 },
        ),
        fc.nat(),
        (trees, cutSeed) => {
          const encoded = trees.map(encode);
          const all = cat(...encoded);
          const cut = cutSeed % all.length; // strictly inside the stream
          const { replies, error } = parse(all.subarray(0, cut), [cut >> 1]);
          expect(error).toBeNull();
          let complete = 0;
          for (let end = 0, i = 0; i < encoded.length; i++) {
            end += encoded[i]!.length;
            if (end <= cut) complete++;
          }
          expect(replies.length).toBe(complete);
          expect(replies.map(plain)).toEqual(trees.slice(0, complete).map(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("arbitrary bytes: replies or one FORMAT_ERROR, never another exception; no bulk past the limit", () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      // Mostly-RESP noise: type bytes, digits, CR, LF, '-', so the parser gets deep into its states.
      fc
        .array(fc.constantFrom(..."$*+-:0123456789\r\n\r\nab-1".split("")), { maxLength: 200 })
        .map((cs) => te.encode(cs.join(""))),
    );
    fc.assert(
      fc.property(bytesArb, fc.array(fc.nat(500), { maxLength: 6 }), (bytes, cuts) => {
        const { replies, error } = parse(bytes, cuts);
        if (error !== null) expect(isFormatError(error)).toBe(true);
        const sizes = (r: Reply): number[] =>
          r instanceof Uint8Array ? [r.length] : Array.isArray(r) ? r.flatMap(sizes) : [];
        for (const n of replies.flatMap(sizes)) expect(n).toBeLessThanOrEqual(LIMITS.maxBulkBytes);
      }),
      { numRuns: 2000 },
    );
  });

  test("oversized lengths are refused from the header alone, before any buffer exists", () => {
    const cases = [
      "$4097\r\n", // one past maxBulkBytes
      "$9007199254740993\r\n", // past 2^53
      "$99999999999999999999\r\n",
      "*65\r\n", // one past maxArrayLength
      "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", // depth 4 > 3
      "$-2\r\n",
      "$1x\r\n",
      "$\r\n",
      ":\r\n",
      "%1\r\n", // a RESP3 type: never negotiated
      `+${"a".repeat(257)}\r\n`, // a line past maxLineBytes
      "$3\r\nabcX\r\n", // bulk not followed by CRLF
      "+OK\n", // LF without CR
    ];
    for (const c of cases) {
      const { replies, error } = parse(te.encode(c));
      expect({ c, formatError: isFormatError(error) }).toEqual({ c, formatError: true });
      expect(replies).toEqual([]);
    }
    // A line past the limit split over many chunks is refused too (the line buffer is bounded).
    const long = te.encode(`+${"a".repeat(5000)}\r\n`);
    expect(
      isFormatError(
        parse(
          long,
          Array.from({ length: 50 }, (_, i) => i * 100),
        ).error,
      ),
    ).toBe(true);
  });

  test("after a framing error the parser refuses further input", () => {
    const replies: Reply[] = [];
    const p = new ReplyParser(LIMITS, (r) => replies.push(r));
    expect(() => p.push(te.encode("?\r\n"))).toThrow(LlmemError);
    expect(() => p.push(te.encode("+OK\r\n"))).toThrow(LlmemError);
    expect(replies).toEqual([]);
  });
});

describe("CommandWriter", () => {
  test("commands encode as RESP arrays of bulk strings; large arguments are passed uncopied", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 40 })), {
            minLength: 1,
            maxLength: 5,
          }),
          { minLength: 1, maxLength: 8 },
        ),
        (commands) => {
          const w = new CommandWriter();
          for (const c of commands) w.command(c);
          const wire = cat(...w.take());
          // Parse it back as an array of bulk strings, with the reply parser.
          const { replies, error } = parse(wire, [], { ...LIMITS, maxArrayLength: 8 });
          expect(error).toBeNull();
          expect(replies.map(plain)).toEqual(
            commands.map((c) => c.map((a) => Array.from(typeof a === "string" ? te.encode(a) : a))),
          );
        },
      ),
      { numRuns: 300 },
    );
    const big = new Uint8Array(DIRECT_BYTES).fill(9);
    const w = new CommandWriter();
    w.command(["SET", "k", big, "NX"]);
    const chunks = w.take();
    expect(chunks.some((c) => c === big)).toBe(true); // the caller's buffer itself, not a copy
    expect(w.take()).toEqual([]);
  });
});
