/**
 * The decode CLI's KV tiers end to end: a second process reuses the first one's prefix through
 * --prompt-cache and through --kv-store (a real redis-server on a loopback port, started by
 * kv-store-redis's test helper) with token-identical output; a damaged file is one warning
 * line and a recompute; Redis killed mid-run or absent changes no token.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath, withModelsDir } from "@llmem/core/testing";
import { RedisServer, redisServerBinary } from "../../../packages/kv-store-redis/test/redis-server.ts";
import { parseArgs } from "../src/args.ts";
import { runDecode } from "../src/run.ts";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "llmem-kv-tiers-"));
const modelPath = fixturePath("stories260K.bin");
const tokPath = fixturePath("tok512.bin");
const bin = redisServerBinary();
let server: RedisServer | null = null;

beforeAll(async () => {
  if (bin !== undefined) server = await RedisServer.start(bin);
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// 46 prompt tokens: two full blocks of 16 are reusable (the last prompt token is always computed).
const PROMPT =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her big dog named Max";
const base = () => [
  "--model",
  modelPath!,
  "--tokenizer",
  tokPath!,
  "--temperature",
  "0",
  "--steps",
  "90",
  "--prompt",
  PROMPT,
];

interface Request {
  tokens: number[];
  reusedTokens: number;
  reusedFrom: { device: number; host: number; file: number; redis: number };
}

function cli(extra: string[]): { code: number; req: Request; err: string } {
  const r = Bun.spawnSync(["bun", CLI, ...base(), ...extra, "--json"], { env: { ...process.env } });
  const err = r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(`decode failed (${r.exitCode}): ${err}`);
  return { code: r.exitCode, req: JSON.parse(r.stdout.toString()).requests[0], err };
}

let cold: Request | null = null;
function coldRun(): Request {
  cold ??= cli([]).req;
  return cold;
}

test.skipIf(modelPath === undefined)(
  "--prompt-cache: the second process reuses the first one's prefix from the file",
  () => {
    const file = join(dir, "prompt.kv");
    const first = cli(["--prompt-cache", file]);
    expect(first.req.reusedTokens).toBe(0);
    expect(first.req.tokens).toEqual(coldRun().tokens);
    const second = cli(["--prompt-cache", file]);
    expect(second.req.tokens).toEqual(coldRun().tokens);
    expect(second.req.reusedTokens).toBe(32);
    expect(second.req.reusedFrom).toEqual({ device: 0, host: 0, file: 32, redis: 0 });
    expect(second.err).toBe("");
  },
);

test.skipIf(modelPath === undefined)(
  "--prompt-cache with a damaged or foreign file: one warning line, same tokens",
  () => {
    const file = join(dir, "damaged.kv");
    cli(["--prompt-cache", file]);
    const bytes = Uint8Array.from(readFileSync(file));
    bytes[bytes.length - 7]! ^= 0x40;
    writeFileSync(file, bytes);
    const r = cli(["--prompt-cache", file]);
    expect(r.req.tokens).toEqual(coldRun().tokens);
    expect(r.req.reusedTokens).toBe(0);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(
      /^decode: warning: --prompt-cache .* not used \(KV file: block \d+: checksum mismatch/,
    );
    // the run saved a good file over it: the next one reuses again
    expect(cli(["--prompt-cache", file]).req.reusedFrom.file).toBe(32);
    // a file of another model (q8_0 weights compute other KV) is refused the same way
    const q8 = cli(["--prompt-cache", file, "--weights", "q8_0"]);
    expect(q8.req.reusedTokens).toBe(0);
    expect(q8.err).toMatch(/another model/);
  },
);

test.skipIf(modelPath === undefined || bin === undefined)(
  "--kv-store: a second process reuses the first one's prefix through Redis, token for token",
  () => {
    const url = server!.url;
    const first = cli(["--kv-store", url]);
    expect(first.req.tokens).toEqual(coldRun().tokens);
    expect(first.req.reusedFrom.redis).toBe(0);
    const second = cli(["--kv-store", url]);
    expect(second.req.tokens).toEqual(coldRun().tokens);
    expect(second.req.reusedFrom).toEqual({ device: 0, host: 0, file: 0, redis: 32 });
    // with both tiers the file comes first; Redis serves what the file lacks
    const file = join(dir, "both.kv");
    const both = cli(["--prompt-cache", file, "--kv-store", url]);
    expect(both.req.reusedFrom.redis).toBe(32);
    const again = cli(["--prompt-cache", file, "--kv-store", url]);
    expect(again.req.reusedFrom).toEqual({ device: 0, host: 0, file: 32, redis: 0 });
    expect(again.req.tokens).toEqual(coldRun().tokens);
  },
);

test.skipIf(modelPath === undefined || bin === undefined)(
  "Redis killed mid-run: decoding goes on and the tokens are those of a run without a store",
  async () => {
    const own = await RedisServer.start(bin!);
    const warnings: string[] = [];
    try {
      cli(["--kv-store", own.url]); // another process stored the prefix
      const o = parseArgs([...base(), "--steps", "120", "--kv-store", own.url]);
      let killed = false;
      const r = await runDecode(o, {
        warn: (line) => warnings.push(line),
        onPiece: () => {
          if (!killed) {
            killed = true;
            void own.kill(); // SIGKILL now, mid-decode; its writes after this fail
          }
        },
      });
      expect(killed).toBe(true);
      const seq = r.sequences[0]!;
      expect(seq.kv.reusedFrom).toEqual({ device: 0, host: 0, file: 0, redis: 32 }); // fetched before the kill
      expect(seq.tokens.slice(0, coldRun().tokens.length)).toEqual(coldRun().tokens); // --steps 120 here, 90 there
      expect(r.tiers!.redis!.stored).toBe(0); // its new blocks had nowhere to go
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings.length).toBeLessThanOrEqual(2); // the connection, and the dropped writes
    } finally {
      await own.stop();
    }
  },
);

test.skipIf(
  modelPath === undefined || bin === undefined || Bun.which("jq") === null || Bun.which("redis-cli") === null,
)("the README demo runs verbatim and prints what the README says", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const at = readme.indexOf("## Reusing a prompt across processes");
  const [, script, printed] = /```sh\n([\s\S]*?)```\n\nprints\n\n```\n([\s\S]*?)```/.exec(readme.slice(at))!;
  // Only the port (a free one, not 6390, which another server may hold), the file's place and
  // the fixture directory (withModelsDir) change.
  const port = String(20000 + (process.pid % 20000));
  const body = withModelsDir(script!)
    .replaceAll("6390", port)
    .replaceAll("/tmp/llmem-demo.kv", join(dir, "demo.kv"));
  const root = join(import.meta.dir, "..", "..", "..");
  const r = Bun.spawnSync(["bash", "-euo", "pipefail", "-c", body], { cwd: root, env: { ...process.env } });
  expect(r.stdout.toString()).toBe(printed!);
  expect(r.exitCode).toBe(0);
});

test("a --kv-store URL of another scheme or an empty --prompt-cache: one line, exit 2", () => {
  for (const [flag, value, says] of [
    ["--kv-store", "http://127.0.0.1:6379", "--kv-store must be a redis://HOST:PORT URL"],
    ["--kv-store", "127.0.0.1:6379", "--kv-store must be a redis://HOST:PORT URL"],
    ["--prompt-cache", "", "--prompt-cache needs a path"],
  ] as const) {
    const r = Bun.spawnSync(["bun", CLI, flag, value]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toBe(`decode: ${says}${flag === "--kv-store" ? `, got "${value}"` : ""}\n`);
  }
});
