/**
 * Which prebuilt package carries libllmem for this machine. One table, read both by the
 * loader (library.ts) and by the build step that copies the monorepo build into the package
 * (scripts/stage-platform.ts), so the two cannot disagree about a name.
 */
import { suffix } from "bun:ffi";

/** The platform packages `@llmem/native` lists as optionalDependencies, by platform key. */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  "linux-x64-gnu": "@llmem/native-linux-x64-gnu",
  "linux-arm64-gnu": "@llmem/native-linux-arm64-gnu",
  "darwin-arm64": "@llmem/native-darwin-arm64",
};

export const LIBRARY_FILE = `libllmem.${suffix}`;

/** glibc or musl: the prebuilt Linux libraries link glibc, so a musl machine has no package. */
function linuxLibc(): "gnu" | "musl" {
  const report = (process as { report?: { getReport?: () => unknown } }).report?.getReport?.() as
    | { header?: { glibcVersionRuntime?: string } }
    | undefined;
  return report?.header?.glibcVersionRuntime ? "gnu" : "musl";
}

/** This machine's key, e.g. "linux-x64-gnu", "darwin-arm64". */
export function platformKey(): string {
  const base = `${process.platform}-${process.arch}`;
  return process.platform === "linux" ? `${base}-${linuxLibc()}` : base;
}

/** The package name for this machine, or undefined when llmem ships none for it. */
export function platformPackage(): string | undefined {
  return PLATFORM_PACKAGES[platformKey()];
}
