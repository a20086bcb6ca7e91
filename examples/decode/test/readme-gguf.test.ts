/** The README's GGUF block, run verbatim from the repository root, prints what the README says it prints. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixturePath, withModelsDir } from "@llmem/core/testing";

const README = join(import.meta.dir, "..", "README.md");
const ROOT = join(import.meta.dir, "..", "..", "..");
const haveFixtures =
  fixturePath("gguf", "stories260K-q8_0.gguf") !== undefined &&
  fixturePath("gguf", "stories260K-f32.gguf") !== undefined;

test.skipIf(!haveFixtures)("README: GGUF models block", () => {
  const section = readFileSync(README, "utf8").split("## GGUF models")[1]!;
  const [, script, , printed] = section.split(/```(?:sh)?\n/);
  const r = Bun.spawnSync(["bash", "-eo", "pipefail", "-c", withModelsDir(script!.split("```")[0]!)], {
    cwd: ROOT,
  });
  expect(r.stderr.toString()).toBe("");
  expect(r.stdout.toString()).toBe(printed!.split("```")[0]!);
});
