/**
 * `bun run test`: turbo runs every package's build and tests (one at a time, so timings and
 * native threads do not fight), its output streams through unchanged, and one last line sums
 * bun's per-package "N pass" / "N fail" / "N skip" lines:
 * `bun test, all packages: N passed, N failed, N skipped` (not "tests:", .ci/run's last line).
 * The exit code is turbo's (a failed task fails the run even if its counts could not be read).
 */
export {};

const turbo = Bun.spawn(
  ["bunx", "turbo", "run", "build", "test", "--continue", "--concurrency=1", ...Bun.argv.slice(2)],
  {
    stdout: "pipe",
    stderr: "inherit",
    stdin: "inherit",
  },
);

const totals = { pass: 0, fail: 0, skip: 0 };
// bun test's summary lines, as turbo prints them: "@llmem/arena:test:  12 pass" (or unprefixed).
const SUMMARY = /^(?:\S+:test:)?\s+(\d+) (pass|fail|skip)\s*$/;
let pending = "";

function count(line: string): void {
  const m = SUMMARY.exec(line);
  if (m !== null) totals[m[2] as keyof typeof totals] += Number(m[1]);
}

const decoder = new TextDecoder();
for await (const chunk of turbo.stdout) {
  process.stdout.write(chunk);
  pending += decoder.decode(chunk, { stream: true });
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) count(line);
}
count(pending);
const code = await turbo.exited;
console.log(`\nbun test, all packages: ${totals.pass} passed, ${totals.fail} failed, ${totals.skip} skipped`);
process.exit(code);
