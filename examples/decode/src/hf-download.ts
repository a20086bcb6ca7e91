/**
 * `--model hf:OWNER/REPO/FILE`: the file from the Hugging Face Hub (or `LLMEM_HF_ENDPOINT`)
 * into a cache directory, resumable, checked against the size and sha256 the Hub announces
 * for LFS files (`x-linked-size`, `x-linked-etag`), and used from the cache afterwards.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { LlmemError } from "@llmem/core";

export const HF_PREFIX = "hf:";
const DEFAULT_ENDPOINT = "https://huggingface.co";
const MAX_REDIRECTS = 8;

export interface HfRef {
  owner: string;
  repo: string;
  /** Path inside the repository (may hold folders). */
  file: string;
}

/** Progress as bytes arrive; `total` is undefined when the server does not say. */
export type DownloadProgress = (done: number, total: number | undefined) => void;

function bad(message: string): LlmemError {
  return new LlmemError("INVALID_ARGUMENT", message, { argument: "--model" });
}

/** Parses `hf:OWNER/REPO/FILE`; every segment non-empty, no `.`/`..`, no backslashes. */
export function parseHfRef(spec: string): HfRef {
  const parts = spec.slice(HF_PREFIX.length).split("/");
  const usage = `--model ${JSON.stringify(spec)}: expected hf:OWNER/REPO/FILE`;
  if (parts.length < 3) throw bad(usage);
  for (const p of parts) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (p === "" || p === "." || p === ".." || /[\\\u0000-\u001f\u007f]/.test(p)) throw bad(usage);
  }
  const [owner, repo, ...rest] = parts as [string, string, ...string[]];
  return { owner, repo, file: rest.join("/") };
}

/** `LLMEM_CACHE`, else `$XDG_CACHE_HOME/llmem`, else `~/.cache/llmem`. */
export function cacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.LLMEM_CACHE) return env.LLMEM_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "llmem");
}

/** `LLMEM_HF_ENDPOINT` (an http or https URL) or the Hub. */
function endpointOf(env: Record<string, string | undefined>): string {
  const endpoint = env.LLMEM_HF_ENDPOINT || DEFAULT_ENDPOINT;
  if (!/^https?:$/.test(URL.parse(endpoint)?.protocol ?? "")) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `LLMEM_HF_ENDPOINT ${JSON.stringify(endpoint)} is not an http(s) URL`,
      {
        argument: "LLMEM_HF_ENDPOINT",
      },
    );
  }
  return endpoint;
}

export function hfUrl(ref: HfRef, endpoint: string): string {
  const path = [ref.owner, ref.repo, "resolve", "main", ...ref.file.split("/")]
    .map(encodeURIComponent)
    .join("/");
  return `${endpoint.replace(/\/+$/, "")}/${path}`;
}

/** The sha256 in an etag (`"…"`, `W/"…"`), or undefined when it holds something else (a git sha1). */
function sha256Of(etag: string | null): string | undefined {
  const v = etag?.replace(/^W\//, "").replaceAll('"', "").toLowerCase();
  return v && /^[0-9a-f]{64}$/.test(v) ? v : undefined;
}

interface Announced {
  size?: number;
  sha256?: string;
}

/** What any hop announced: the Hub puts x-linked-* on its redirect to the CDN. */
function announce(a: Announced, h: Headers): void {
  const size = Number(h.get("x-linked-size") ?? Number.NaN);
  if (Number.isSafeInteger(size) && size >= 0) a.size ??= size;
  a.sha256 ??= sha256Of(h.get("x-linked-etag")) ?? sha256Of(h.get("etag"));
}

function networkError(spec: string, what: string): LlmemError {
  return new LlmemError("NETWORK_ERROR", `--model ${spec}: ${what}`, { argument: "--model" });
}

/** GET with redirects followed by hand, so the headers of every hop are seen. */
async function get(spec: string, url: string, from: number, a: Announced): Promise<Response> {
  let at = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let r: Response;
    try {
      r = await fetch(at, { redirect: "manual", headers: from > 0 ? { range: `bytes=${from}-` } : {} });
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw networkError(
        spec,
        `cannot reach ${new URL(at).origin} (${code ?? (e as Error).message}); offline? Set LLMEM_HF_ENDPOINT for a mirror`,
      );
    }
    announce(a, r.headers);
    const location = r.headers.get("location");
    if (r.status >= 300 && r.status < 400 && location) {
      at = new URL(location, at).href;
      continue;
    }
    return r;
  }
  throw networkError(spec, `more than ${MAX_REDIRECTS} redirects from ${url}`);
}

async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/**
 * The local path of `spec` (hf:OWNER/REPO/FILE), downloading it first unless the cache holds
 * it. A cut-off download leaves `FILE.part`, which the next run resumes with a Range request.
 */
export async function resolveHfModel(
  spec: string,
  o: { env?: Record<string, string | undefined>; progress?: DownloadProgress } = {},
): Promise<string> {
  const env = o.env ?? process.env;
  const ref = parseHfRef(spec);
  const path = join(cacheDir(env), "hf", ref.owner, ref.repo, ...ref.file.split("/"));
  if (existsSync(path)) return path;
  const part = `${path}.part`;
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw bad(
      `cannot create the cache directory ${dirname(path)} (${(e as NodeJS.ErrnoException).code ?? e}); set LLMEM_CACHE`,
    );
  }
  const url = hfUrl(ref, endpointOf(env));
  const have = existsSync(part) ? statSync(part).size : 0;
  const announced: Announced = {};
  const r = await get(spec, url, have, announced);
  let from = have;
  if (r.status === 416 && have > 0) {
    from = have; // the part already holds every byte; verify it below
  } else if (r.status === 200) {
    from = 0; // the server ignored the range: start over
  } else if (r.status !== 206) {
    const why =
      r.status === 404
        ? "not found"
        : r.status === 401 || r.status === 403
          ? "refused (gated or private repository?)"
          : "failed";
    throw networkError(spec, `${why}: HTTP ${r.status} from ${url}`);
  }
  if (r.status === 206) {
    const start = /^bytes (\d+)-/.exec(r.headers.get("content-range") ?? "")?.[1];
    if (Number(start) !== have)
      throw networkError(
        spec,
        `asked for bytes from ${have}, the server sent ${r.headers.get("content-range")}`,
      );
  }
  if (r.status !== 416) {
    const length = Number(r.headers.get("content-length") ?? Number.NaN);
    const total = announced.size ?? (Number.isSafeInteger(length) ? from + length : undefined);
    await receive(spec, r, part, from, total, o.progress);
  }
  await verify(spec, part, announced);
  renameSync(part, path);
  return path;
}

/** Streams the body into the part file from byte `from`, reporting progress. */
async function receive(
  spec: string,
  r: Response,
  part: string,
  from: number,
  total: number | undefined,
  progress?: DownloadProgress,
): Promise<void> {
  const fd = openSync(part, from > 0 ? "a" : "w");
  let done = from;
  try {
    progress?.(done, total);
    if (r.body === null) return;
    for await (const chunk of r.body) {
      writeSync(fd, chunk);
      done += chunk.byteLength;
      progress?.(done, total);
    }
  } catch (e) {
    throw networkError(
      spec,
      `the download was cut off at byte ${done}${total ? ` of ${total}` : ""} (${(e as Error).message}); run again to resume`,
    );
  } finally {
    closeSync(fd);
  }
}

/** Size and sha256 against what the server announced; a mismatch removes the part. */
async function verify(spec: string, part: string, a: Announced): Promise<void> {
  const size = statSync(part).size;
  const fail = (what: string) => {
    rmSync(part, { force: true });
    return new LlmemError("CHECKSUM_MISMATCH", `--model ${spec}: ${what}; the download was removed`, {
      argument: "--model",
    });
  };
  if (a.size !== undefined && size !== a.size)
    throw fail(`received ${size} bytes, the server announced ${a.size}`);
  if (a.sha256 !== undefined) {
    const got = await sha256File(part);
    if (got !== a.sha256) throw fail(`sha256 ${got} differs from the announced ${a.sha256}`);
  }
}

/** Progress on stderr: a bar redrawn in place on a terminal, otherwise one line per 10%. */
export function downloadProgress(write: (s: string) => void, tty: boolean, label: string): DownloadProgress {
  let lastTenth = -1;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  return (done, total) => {
    const frac = total ? Math.min(1, done / total) : undefined;
    if (tty) {
      const width = 30;
      const bar = frac === undefined ? "" : `[${"#".repeat(Math.round(frac * width)).padEnd(width, " ")}] `;
      write(`\r${label} ${bar}${mib(done)}${total ? `/${mib(total)}` : ""} MiB`);
      if (frac === 1) write("\n");
      return;
    }
    if (frac === undefined) return;
    const tenth = Math.floor(frac * 10);
    if (tenth > lastTenth) {
      lastTenth = tenth;
      write(`${label} ${tenth * 10}% (${mib(done)}/${mib(total!)} MiB)\n`);
    }
  };
}
