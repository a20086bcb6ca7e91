/**
 * The native boundary: only packages/native may call libllmem. Fails (exit 1, listing each line)
 * when a source file anywhere else in the repository names the library accessor, calls one of
 * libllmem's C entry points, or imports the FFI declaration tables (the pattern below). Run by
 * `bun run lint` and by .ci/run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
// Built from pieces so this file does not match itself: the accessor, a member call of a C
// symbol, an import of the FFI declaration tables, or opening a library with bun:ffi. (Not the
// bare word for those tables: tokenizers have symbols of their own.)
const raw = new RegExp(
  ["native" + "Lib\\b", "\\.llmem" + "_", "/sym" + "bols\\b", "\\bsym" + "bols\\.", "\\bdl" + "open\\("].join(
    "|",
  ),
);
const owner = "packages/native/";

const files = Bun.spawnSync(["git", "ls-files", "--cached", "--others", "--exclude-standard"], { cwd: root })
  .stdout.toString()
  .split("\n")
  .filter((f) => /\.(ts|tsx|js|mjs|cjs)$/.test(f) && !f.startsWith(owner));

const hits: string[] = [];
for (const file of files) {
  let text: string;
  try {
    text = readFileSync(join(root, file), "utf8");
  } catch {
    continue; // listed but deleted in the work tree
  }
  text.split("\n").forEach((line, i) => {
    if (raw.test(line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
  });
}

if (hits.length > 0) {
  console.error(
    `native boundary: ${hits.length} raw libllmem use(s) outside ${owner} (use @llmem/native's wrappers):`,
  );
  for (const h of hits) console.error(`  ${h}`);
  process.exit(1);
}
console.log(`native boundary: ${files.length} files outside ${owner}, no raw libllmem call`);
