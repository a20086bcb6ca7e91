import { expect, test } from "bun:test";

test("the demo runs and reports", () => {
  const r = Bun.spawnSync(["bun", `${import.meta.dir}/../src/cli.ts`]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout.toString()).toContain("attention over 8 tokens");
});
