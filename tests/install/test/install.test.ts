/**
 * What a user outside the monorepo gets: every package packed with `bun pm pack` (which
 * rewrites `workspace:*` to versions), the tarballs installed into a fresh project in the
 * system temp directory, and a bucket-pool and a kv-cache example run there. libllmem must
 * come from the platform package (`@llmem/native-<platform>`), not from the monorepo build.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIBRARY_FILE, platformKey, platformPackage } from "../../../packages/native/src/platform.ts";

const REPO = join(import.meta.dir, "..", "..", "..");
const PLATFORM_PKG = platformPackage();
if (PLATFORM_PKG === undefined)
  console.warn(`SKIPPED: llmem ships no platform package for ${platformKey()}; nothing to install`);
const staged = PLATFORM_PKG && join(REPO, "packages", PLATFORM_PKG.replace("@llmem/", ""), LIBRARY_FILE);
if (staged && !existsSync(staged)) {
  // The build step fills it; a run without it would test the TS fallback and call it a pass.
  const msg = `${staged} is missing: run \`bun run build\` (it copies libllmem into the platform package)`;
  if (process.env.CI === "true") throw new Error(msg);
  console.warn(`SKIPPED: ${msg}`);
}
const canRun = PLATFORM_PKG !== undefined && staged !== undefined && existsSync(staged);

const EXAMPLE = `
import { BucketPool } from "@llmem/bucket-pool";
import { PagedKvCache } from "@llmem/kv-cache";
import { backend, nativeLibraryPath } from "@llmem/native";

using pool = new BucketPool();
for (let step = 0; step < 3; step++) {
  pool.alloc(32000 * 4).view(Float32Array).fill(step);
  pool.alloc(1000);
  pool.reset();
}
const s = pool.stats();

const numKvHeads = 2, numHeads = 8, headDim = 64, row = numKvHeads * headDim;
const rows = (n: number) => Float32Array.from({ length: n * row }, (_, i) => Math.sin(i));
const cache = new PagedKvCache({ numLayers: 1, numKvHeads, numHeads, headDim, blockSize: 16, numBlocks: 16, format: "q8_0" });
const prompt = Array.from({ length: 40 }, (_, i) => i + 1);
const a = cache.admit(prompt, { maxTokens: 48 })!;
a.beginStep(prompt);
a.write(0, rows(40), rows(40));
a.end();
a.beginStep(7);
a.write(0, rows(1), rows(1));
const out = new Float32Array(numHeads * headDim);
a.attend(0, new Float32Array(numHeads * headDim).fill(0.1), out);
a.end();
a.release();
const b = cache.admit([...prompt.slice(0, 35), 99])!;
console.log(JSON.stringify({
  backend: backend(),
  library: nativeLibraryPath(),
  pool: [s.hits, s.misses],
  kv: [b.cachedTokens, Number.isFinite(out[0]) && out.some((x) => x !== 0)],
}));
b.release();
cache.dispose();
`;

let dir = "";
let project = "";

/** Runs a command, failing with its output when it exits non-zero. */
function run(cmd: string[], cwd: string, env: Record<string, string | undefined> = process.env) {
  const r = Bun.spawnSync(cmd, { cwd, env });
  const out = { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} in ${cwd} exited ${r.exitCode}:\n${out.stderr}`);
  return out;
}

/** The environment of a user's shell: no monorepo overrides of where libllmem comes from. */
function userEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.LLMEM_NATIVE;
  delete env.LLMEM_NATIVE_PATH;
  return env;
}

describe.skipIf(!canRun)("packed and installed outside the repository", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "llmem-install-"));
    const tarballs = join(dir, "tarballs");
    const packs: Record<string, string> = {};
    for (const name of readdirSync(join(REPO, "packages"))) {
      const pkgDir = join(REPO, "packages", name);
      if (!existsSync(join(pkgDir, "package.json"))) continue;
      const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
      run([process.execPath, "pm", "pack", "--quiet", "--destination", tarballs], pkgDir);
      const file = `${manifest.name.replace("@", "").replace("/", "-")}-${manifest.version}.tgz`;
      packs[manifest.name] = `file:${join(tarballs, file)}`;
    }
    project = join(dir, "app");
    run(["mkdir", "-p", project], dir);
    // Every @llmem/* name, direct or transitive, resolves to its tarball: nothing is fetched
    // from a registry (where the names may not exist, or belong to someone else).
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({
        name: "app",
        private: true,
        type: "module",
        dependencies: {
          "@llmem/bucket-pool": packs["@llmem/bucket-pool"],
          "@llmem/kv-cache": packs["@llmem/kv-cache"],
          "@llmem/native": packs["@llmem/native"],
        },
        overrides: packs,
      }),
    );
    writeFileSync(join(project, "example.ts"), EXAMPLE);
    // A cache of its own: a tarball repacked with the same name and version must not be
    // served from the user's cache.
    run([process.execPath, "install", "--no-progress"], project, {
      ...userEnv(),
      BUN_INSTALL_CACHE_DIR: join(dir, "cache"),
    });
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("workspace:* dependencies were rewritten to versions by the pack", () => {
    const manifest = JSON.parse(
      readFileSync(join(project, "node_modules", "@llmem", "native", "package.json"), "utf8"),
    );
    expect(manifest.dependencies["@llmem/core"]).toBe("0.1.0");
    expect(manifest.optionalDependencies[PLATFORM_PKG!]).toBe("0.1.0");
  });

  test("the examples run with libllmem loaded from the platform package", () => {
    const r = run([process.execPath, "example.ts"], project, userEnv());
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout);
    expect(["avx2", "neon", "scalar"]).toContain(got.backend);
    expect(got.library).toBe(join(project, "node_modules", PLATFORM_PKG!, LIBRARY_FILE));
    expect(got.pool).toEqual([4, 2]);
    expect(got.kv).toEqual([32, true]);
  });

  test("without the platform package: the TS paths, and one line naming the platform and what to do", () => {
    rmSync(join(project, "node_modules", PLATFORM_PKG!), { recursive: true, force: true });
    const r = run([process.execPath, "example.ts"], project, userEnv());
    expect(JSON.parse(r.stdout).backend).toBe("ts");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(platformKey());
    expect(lines[0]).toContain(`${PLATFORM_PKG} is not installed`);
    expect(lines[0]).toContain("LLMEM_NATIVE_PATH");
  });
});
