/**
 * `--model hf:OWNER/REPO/FILE` against a loopback server shaped like the Hub (a redirect
 * carrying x-linked-size/x-linked-etag, then a CDN answering Range requests): download and
 * decode, the cache used afterwards, a cut-off download resumed, a wrong sha256, a 404 and
 * an unreachable endpoint each as one line and exit 2.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";
import { cacheDir, downloadProgress, hfUrl, parseHfRef } from "../src/hf-download.ts";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
const fixture = fixturePath("gguf", "stories260K-f32.gguf");
const bytes = fixture === undefined ? new Uint8Array(0) : new Uint8Array(readFileSync(fixture));
const sha = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

interface ServerState {
  /** The etag the Hub hop announces. */
  etag: string;
  /** Cut the next CDN body off after this many bytes. */
  cutAfter?: number;
  /** Answer Range requests with the whole file (200), as a server without range support does. */
  ignoreRange?: boolean;
  requests: { path: string; range: string | null }[];
}
const state: ServerState = { etag: sha, requests: [] };

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const url = new URL(req.url);
    const range = state.ignoreRange ? null : req.headers.get("range");
    state.requests.push({ path: url.pathname, range });
    if (url.pathname === "/owner/repo/resolve/main/models/stories.gguf") {
      return new Response(null, {
        status: 302,
        headers: {
          location: "/cdn/blob",
          "x-linked-size": String(bytes.length),
          "x-linked-etag": `"${state.etag}"`,
        },
      });
    }
    if (url.pathname !== "/cdn/blob") return new Response("Entry not found", { status: 404 });
    const from = range ? Number(/^bytes=(\d+)-$/.exec(range)![1]) : 0;
    const body = bytes.subarray(from);
    const headers: Record<string, string> = { "content-length": String(body.length), etag: '"cdn-etag"' };
    if (range) headers["content-range"] = `bytes ${from}-${bytes.length - 1}/${bytes.length}`;
    if (state.cutAfter !== undefined) {
      // Send the rest of this answer from a raw socket that hangs up after cutAfter bytes.
      return Response.redirect(`http://127.0.0.1:${cutter.port}${range ? `?from=${from}` : ""}`, 302);
    }
    return new Response(body, { status: range ? 206 : 200, headers });
  },
});
const endpoint = `http://127.0.0.1:${server.port}`;

/** A CDN whose connection drops mid-body: full headers, then cutAfter bytes, then close. */
const cutter = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(socket, request) {
      const from = Number(/from=(\d+)/.exec(request.toString())?.[1] ?? 0);
      const body = bytes.subarray(from, from + state.cutAfter!);
      state.cutAfter = undefined;
      const status = from > 0 ? "206 Partial Content" : "200 OK";
      const range = from > 0 ? `content-range: bytes ${from}-${bytes.length - 1}/${bytes.length}\r\n` : "";
      socket.write(`HTTP/1.1 ${status}\r\ncontent-length: ${bytes.length - from}\r\n${range}\r\n`);
      socket.write(body);
      socket.end();
    },
  },
});

const tempDirs: string[] = [];
afterAll(() => {
  server.stop(true);
  cutter.stop(true);
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
function freshCache(): string {
  const d = mkdtempSync(join(tmpdir(), "llmem-hf-"));
  tempDirs.push(d);
  return d;
}
beforeEach(() => {
  state.etag = sha;
  state.cutAfter = undefined;
  state.ignoreRange = undefined;
  state.requests = [];
});

async function run(args: string[], env: Record<string, string>) {
  const p = Bun.spawn(["bun", CLI, ...args], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, out, err };
}

const MODEL = "hf:owner/repo/models/stories.gguf";
const greedy = [
  "--model",
  MODEL,
  "--temperature",
  "0",
  "--prompt",
  "Once upon a time",
  "--steps",
  "12",
  "--json",
];

describe("hf: references", () => {
  test("parse, URL and cache directory", () => {
    expect(parseHfRef("hf:a/b/c/d.gguf")).toEqual({ owner: "a", repo: "b", file: "c/d.gguf" });
    for (const badRef of ["hf:a/b", "hf:a//c", "hf:a/b/../x", "hf:a/b/c\\d"])
      expect(() => parseHfRef(badRef)).toThrow(/expected hf:OWNER\/REPO\/FILE/);
    expect(hfUrl(parseHfRef("hf:a/b/c d.gguf"), "http://h/")).toBe("http://h/a/b/resolve/main/c%20d.gguf");
    expect(cacheDir({ LLMEM_CACHE: "/x" })).toBe("/x");
    expect(cacheDir({ XDG_CACHE_HOME: "/c" })).toBe("/c/llmem");
  });
});

describe("download progress", () => {
  test("off a terminal: one line per 10 % reached, none repeated", () => {
    const out: string[] = [];
    const p = downloadProgress((s) => out.push(s), false, "dl");
    for (const done of [0, 5, 10, 11, 55, 99, 100]) p(done * 10, 1000);
    expect(out.join("")).toBe(
      "dl 0% (0.0/0.0 MiB)\ndl 10% (0.0/0.0 MiB)\ndl 50% (0.0/0.0 MiB)\ndl 90% (0.0/0.0 MiB)\ndl 100% (0.0/0.0 MiB)\n",
    );
  });

  test("on a terminal: a bar redrawn in place, a newline when complete", () => {
    const out: string[] = [];
    const p = downloadProgress((s) => out.push(s), true, "dl");
    p(2 ** 20, 2 ** 21);
    p(2 ** 21, 2 ** 21);
    expect(out).toEqual([
      `\rdl [${"#".repeat(15)}${" ".repeat(15)}] 1.0/2.0 MiB`,
      `\rdl [${"#".repeat(30)}] 2.0/2.0 MiB`,
      "\n",
    ]);
  });
});

describe.skipIf(fixture === undefined)("bun run decode --model hf:…", () => {
  test("downloads with a line per 10% off a terminal, decodes, then runs from the cache", async () => {
    const cache = freshCache();
    const env = { LLMEM_HF_ENDPOINT: endpoint, LLMEM_CACHE: cache };
    const r = await run(greedy, env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).tokens.slice(4, 8)).toEqual([432, 383, 286, 261]);
    const lines = r.err.trim().split("\n");
    expect(lines[0]).toMatch(/^downloading models\/stories\.gguf 0% /);
    expect(lines.at(-1)).toMatch(/^downloading models\/stories\.gguf 100% \(1\.1\/1\.1 MiB\)$/);
    expect(lines.every((l) => /^downloading models\/stories\.gguf \d+0?% /.test(l))).toBe(true);
    const cached = join(cache, "hf", "owner", "repo", "models", "stories.gguf");
    expect(statSync(cached).size).toBe(bytes.length);
    state.requests = [];
    const again = await run(greedy, env);
    expect(again.code).toBe(0);
    expect(again.err).toBe("");
    expect(state.requests).toEqual([]);
  });

  test("a cut-off download leaves a .part; the next run resumes it with a Range request", async () => {
    const cache = freshCache();
    const env = { LLMEM_HF_ENDPOINT: endpoint, LLMEM_CACHE: cache };
    state.cutAfter = 400_000;
    const cut = await run(greedy, env);
    expect(cut.code).toBe(2);
    expect(cut.err.trim().split("\n").at(-1)).toMatch(
      /^decode: --model hf:owner\/repo\/models\/stories\.gguf: the download was cut off at byte \d+ of 1185376 .*run again to resume$/,
    );
    const part = join(cache, "hf", "owner", "repo", "models", "stories.gguf.part");
    const have = statSync(part).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThan(bytes.length);
    state.requests = [];
    const resumed = await run(greedy, env);
    expect(resumed.code).toBe(0);
    expect(state.requests.at(-1)).toEqual({ path: "/cdn/blob", range: `bytes=${have}-` });
    expect(existsSync(part)).toBe(false);
    expect(readFileSync(join(cache, "hf", "owner", "repo", "models", "stories.gguf")).equals(bytes)).toBe(
      true,
    );
  });

  test("a server that ignores Range: the resumed download starts over and still checks out", async () => {
    const cache = freshCache();
    const env = { LLMEM_HF_ENDPOINT: endpoint, LLMEM_CACHE: cache };
    state.cutAfter = 300_000;
    expect((await run(greedy, env)).code).toBe(2);
    state.ignoreRange = true;
    const r = await run(greedy, env);
    expect(r.code).toBe(0);
    expect(readFileSync(join(cache, "hf", "owner", "repo", "models", "stories.gguf")).equals(bytes)).toBe(
      true,
    );
  });

  test("a sha256 other than the announced one: one line, exit 2, nothing kept", async () => {
    const cache = freshCache();
    state.etag = "0".repeat(64);
    const r = await run(greedy, { LLMEM_HF_ENDPOINT: endpoint, LLMEM_CACHE: cache });
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n").at(-1)).toBe(
      `decode: --model ${MODEL}: sha256 ${sha} differs from the announced ${"0".repeat(64)}; the download was removed`,
    );
    expect(existsSync(join(cache, "hf", "owner", "repo", "models", "stories.gguf"))).toBe(false);
    expect(existsSync(join(cache, "hf", "owner", "repo", "models", "stories.gguf.part"))).toBe(false);
  });

  test("not found and unreachable: one line, exit 2", async () => {
    const cache = freshCache();
    const missing = await run(["--model", "hf:owner/repo/nope.gguf"], {
      LLMEM_HF_ENDPOINT: endpoint,
      LLMEM_CACHE: cache,
    });
    expect([missing.code, missing.err]).toEqual([
      2,
      `decode: --model hf:owner/repo/nope.gguf: not found: HTTP 404 from ${endpoint}/owner/repo/resolve/main/nope.gguf\n`,
    ]);
    const badEndpoint = await run(["--model", MODEL], { LLMEM_HF_ENDPOINT: "ftp://x", LLMEM_CACHE: cache });
    expect([badEndpoint.code, badEndpoint.err]).toEqual([
      2,
      'decode: LLMEM_HF_ENDPOINT "ftp://x" is not an http(s) URL\n',
    ]);
    // A port nothing listens on: a server started and stopped at once.
    const gone = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const dead = `http://127.0.0.1:${gone.port}`;
    gone.stop(true);
    const offline = await run(["--model", MODEL], { LLMEM_HF_ENDPOINT: dead, LLMEM_CACHE: cache });
    expect(offline.code).toBe(2);
    expect(offline.err).toMatch(
      new RegExp(
        `^decode: --model ${MODEL}: cannot reach ${dead} \\(.+\\); offline\\? Set LLMEM_HF_ENDPOINT for a mirror\\n$`,
      ),
    );
  });
});
