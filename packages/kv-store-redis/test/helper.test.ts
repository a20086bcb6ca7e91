// The test helper's contract: no redis-server → a visible SKIPPED line locally and a failure
// under CI=true, so CI cannot pass by skipping every server test.
import { expect, spyOn, test } from "bun:test";
import { redisServerBinary } from "./redis-server.ts";

test("a missing redis-server skips visibly, and fails under CI=true", () => {
  const warn = spyOn(console, "warn").mockImplementation(() => {});
  try {
    expect(redisServerBinary({ PATH: "/nonexistent" })).toBeUndefined();
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      "SKIPPED: @llmem/kv-store-redis server tests need redis-server (apt-get install redis-server)",
    ]);
  } finally {
    warn.mockRestore();
  }
  expect(() => redisServerBinary({ PATH: "/nonexistent", CI: "true" })).toThrow("CI=true");
});
