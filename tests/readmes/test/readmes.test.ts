/**
 * Every ```ts block of every README (root, packages/*, examples/*, tests/*), run verbatim
 * from a file at the repository root as a user who pasted it would: it must exit 0 and print
 * nothing on stderr but what the README documents. A note on the line above a block says what
 * it may print or needs:
 *   <!-- stderr …: "text" -->    a stderr line containing "text" is documented (one per quote)
 *   <!-- needs fixture: PATH --> runs only when the fixture exists: PATH as the example spells
 *                                it from the root (`../shared/models/…`), or a name under the
 *                                shared models (fixturePath); absent, a visible SKIPPED line,
 *                                and under CI=true a failure
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import {
  fixturePath,
  README_MODELS,
  readmeFixturePath,
  readmeTsBlocks,
  runAtRepoRoot,
} from "@llmem/core/testing";

const ROOT = join(import.meta.dir, "..", "..", "..");

function readmes(): string[] {
  const found = [join(ROOT, "README.md")];
  for (const group of ["packages", "examples", "tests"]) {
    for (const name of readdirSync(join(ROOT, group)).sort()) {
      const path = join(ROOT, group, name, "README.md");
      if (existsSync(path)) found.push(path);
    }
  }
  return found;
}

/** Whether a block's fixture is there; absent: a SKIPPED line, or under CI=true a failure. */
function fixturePresent(path: string): boolean {
  if (!path.startsWith(".")) return fixturePath(path) !== undefined;
  if (path.startsWith(`${README_MODELS}/`)) return readmeFixturePath(path) !== undefined;
  const full = join(ROOT, path);
  if (existsSync(full)) return true;
  if (process.env.CI === "true")
    throw new Error(`fixture ${full} is missing (CI=true: a missing fixture fails)`);
  console.warn(`SKIPPED: a README example needs the fixture ${full} (absent)`);
  return false;
}

const blocks = readmes().flatMap((path) =>
  readmeTsBlocks(readFileSync(path, "utf8")).map((b) => ({
    ...b,
    where: `${relative(ROOT, path)}:${b.line}`,
  })),
);

test("the READMEs hold examples (the extraction found them)", () => {
  expect(blocks.length).toBeGreaterThanOrEqual(10);
});

describe("README examples run where they are pasted", () => {
  for (const b of blocks) {
    const fixture = /needs fixture: ([^\s>]+)/.exec(b.note)?.[1];
    const present = fixture === undefined || fixturePresent(fixture);
    const documented = b.note.startsWith("<!-- stderr")
      ? [...b.note.matchAll(/"([^"]+)"/g)].map((m) => m[1]!)
      : [];
    test.skipIf(!present)(
      b.where,
      () => {
        const r = runAtRepoRoot(b.code);
        const stray = r.stderr.split("\n").filter((l) => l !== "" && !documented.some((d) => l.includes(d)));
        expect(stray).toEqual([]);
        expect(r.exitCode).toBe(0);
      },
      30_000,
    );
  }
});
