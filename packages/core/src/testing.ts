/**
 * Test helpers shared by every package's tests (`@llmem/core/testing`): one way to assert on
 * an LlmemError, so a change to the error shape is mended once.
 */

import { expect } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LlmemError, type LlmemErrorCode } from "./errors.ts";

/**
 * The `code` of the LlmemError `fn` throws; `undefined` when it returns normally, and
 * `"not-llmem: …"` when it throws anything else, so an assertion on the code fails loudly.
 */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof LlmemError ? e.code : `not-llmem: ${e}`;
  }
  return undefined;
}

/** Asserts `fn` throws an LlmemError with `code` whose message mentions every `words`. */
export function expectLlmemError(fn: () => unknown, code: LlmemErrorCode, ...words: string[]): LlmemError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LlmemError);
  const err = caught as LlmemError;
  expect(err.code).toBe(code);
  for (const w of words) expect(err.message).toContain(w);
  return err;
}

/**
 * The shared model fixtures (`../shared/models/` beside the repository root; `LLMEM_MODELS`
 * overrides). Tests never copy them into the project.
 */
export const MODELS_DIR: string =
  process.env.LLMEM_MODELS ?? join(import.meta.dir, "..", "..", "..", "..", "shared", "models");

/**
 * The absolute path of a fixture under MODELS_DIR, or `undefined` when it is absent: then one
 * visible `SKIPPED` line names it, and under `CI=true` the absence throws, so a CI run missing
 * its fixtures fails instead of passing quietly. Use with `test.skipIf(path === undefined)`.
 */
export function fixturePath(...parts: string[]): string | undefined {
  const path = join(MODELS_DIR, ...parts);
  if (existsSync(path)) return path;
  if (process.env.CI === "true")
    throw new Error(`fixture ${path} is missing (CI=true: a missing fixture fails)`);
  console.warn(`SKIPPED: tests need the fixture ${path} (absent)`);
  return undefined;
}

/** How the READMEs spell the fixture directory: `../shared/models`, beside the repository root. */
export const README_MODELS = "../shared/models";

/**
 * README code with its fixture directory pointed at MODELS_DIR: the same place in the usual
 * layout, and `LLMEM_MODELS` in a clone elsewhere (CI), so the examples run there too. This is
 * the one change the README runners make to an example's text.
 */
export function withModelsDir(code: string): string {
  return code.replaceAll(README_MODELS, MODELS_DIR);
}

/** The fixture a README path names (`../shared/models/X` → fixturePath(X)); see fixturePath. */
export function readmeFixturePath(path: string): string | undefined {
  const prefix = `${README_MODELS}/`;
  if (!path.startsWith(prefix)) throw new Error(`${path} is not under ${README_MODELS}/`);
  return fixturePath(path.slice(prefix.length));
}

/** What running a README's example printed, beside what its comments say it prints. */
export interface ReadmeRun {
  /** The `// …` comment ending each `console.log(…);` line of the example, in order. */
  expected: string[];
  /** The lines it printed. */
  printed: string[];
  stderr: string;
  exitCode: number;
}

/** The repository root: README examples run from a file here, as a user pasting them would. */
const REPO_ROOT = join(import.meta.dir, "..", "..", "..");

/** One ```ts block of a README and the line just above its fence (where a `<!-- … -->` note goes). */
export interface ReadmeBlock {
  code: string;
  /** The 1-based line of the opening fence. */
  line: number;
  /** The non-empty line above the fence, e.g. `<!-- stderr: "…" -->`; "" when there is none. */
  note: string;
}

/** Every ```ts block of a README, in order. */
export function readmeTsBlocks(readme: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  for (const m of readme.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const before = readme.slice(0, m.index).split("\n");
    const above =
      before
        .slice(0, -1)
        .reverse()
        .find((l) => l.trim() !== "") ?? "";
    blocks.push({
      code: m[1]!,
      line: before.length,
      note: above.trim().startsWith("<!--") ? above.trim() : "",
    });
  }
  return blocks;
}

/** Runs TypeScript verbatim (but for withModelsDir) from a temporary file at the repository root (removed after). */
export function runAtRepoRoot(code: string): { stdout: string; stderr: string; exitCode: number } {
  const file = join(
    REPO_ROOT,
    `.readme-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.ts`,
  );
  writeFileSync(file, withModelsDir(code));
  try {
    const r = Bun.spawnSync([process.execPath, file], { cwd: REPO_ROOT });
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * Runs the first ```ts block of `readmePath` (or, given `section`, the first one after that
 * heading) verbatim from a file at the repository root (so its `@llmem/*` imports resolve as a
 * user's would) and returns what it printed and what its `console.log(…); // expected`
 * comments say. A package's README test asserts they agree.
 */
export function runReadmeExample(readmePath: string, section?: string): ReadmeRun {
  let readme = readFileSync(readmePath, "utf8");
  if (section !== undefined) {
    const at = readme.indexOf(section);
    if (at < 0) throw new Error(`${readmePath} has no section ${section}`);
    readme = readme.slice(at);
  }
  const code = readmeTsBlocks(readme)[0]?.code;
  if (code === undefined)
    throw new Error(`${readmePath} has no \`\`\`ts example${section ? ` after ${section}` : ""}`);
  const expected = [...code.matchAll(/^console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
  const r = runAtRepoRoot(code);
  return { expected, printed: r.stdout.trimEnd().split("\n"), stderr: r.stderr, exitCode: r.exitCode };
}

export {
  anyView,
  assertCallsRefused,
  BAD_SIZES,
  changingField,
  expectRefused,
  fakeView,
  guarded,
  hostileArray,
  hostileScalar,
  hostileValue,
  lyingView,
  lyingViews,
  refusesNaming,
  wrongType,
} from "./hostile.ts";
