// The README's example, verbatim, run from a file at the repository root as a user would.
// It needs no server: without one at 127.0.0.1:6379 it reuses nothing and warns once.
import { expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..", "..");

test("the README example runs from the repository root", async () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toBeDefined();
  const file = join(root, `.kv-store-redis-readme-${process.pid}.ts`);
  writeFileSync(file, code!);
  try {
    const proc = Bun.spawn([process.execPath, file], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill(), 20_000);
    const [out, err, code_] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    clearTimeout(timer);
    expect({ code: code_, err: code_ === 0 ? "" : err }).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/^reused [04] of 4 blocks\n/);
    // No server: one warning line, no stack trace. A server: no warning.
    expect(err.split("\n").filter((l) => l !== "").length).toBeLessThanOrEqual(1);
  } finally {
    rmSync(file, { force: true });
  }
}, 30_000);
