// The README's example, verbatim, run from a file at the repository root as a user would.
// Its output depends on whether a server listens at 127.0.0.1:6379 (none: it reuses nothing
// and warns once; one: 0 on a first run, 4 on later ones), so the test accepts either.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { runReadmeExample } from "@llmem/core/testing";

test("the README example runs from the repository root, with or without a server", () => {
  const run = runReadmeExample(join(import.meta.dir, "..", "README.md"));
  expect(run.exitCode).toBe(0);
  expect(run.printed[0]).toMatch(/^reused [04] of 4 blocks$/);
  const warnings = run.stderr.split("\n").filter((l) => l !== "");
  expect(warnings.length).toBeLessThanOrEqual(1); // no server: one line, no stack trace
  if (warnings.length === 1) {
    expect(warnings[0]).toContain("is not answering");
    expect(run.printed[0]).toBe("reused 0 of 4 blocks");
  }
}, 30_000);
