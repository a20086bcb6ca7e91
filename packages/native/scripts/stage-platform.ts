/**
 * The build step after `make`: copies native/build/lib/libllmem.<suffix> into this machine's
 * platform package (packages/native-<platform>/), so `bun pm pack` of that package carries the
 * library a user installs. Run by `bun run build` in @llmem/native.
 */
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { LIBRARY_FILE, platformKey, platformPackage } from "../src/platform.ts";

const repo = join(import.meta.dir, "..", "..", "..");
const built = join(repo, "native", "build", "lib", LIBRARY_FILE);
const pkg = platformPackage();
if (pkg === undefined) {
  console.log(`stage-platform: llmem ships no package for ${platformKey()}; nothing copied`);
} else if (!existsSync(built)) {
  console.error(`stage-platform: ${built} does not exist (make did not build it)`);
  process.exit(1);
} else {
  const dir = join(repo, "packages", pkg.replace("@llmem/", ""));
  copyFileSync(built, join(dir, LIBRARY_FILE));
}
