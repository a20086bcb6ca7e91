/**
 * `bun run decode convert IN.bin OUT.gguf --tokenizer T.bin`: a llama2.c checkpoint and
 * tokenizer to GGUF, as llama.cpp's convert-llama2c-to-ggml writes it (@llmem/gguf's
 * llama2cToGguf). Kept apart from args.ts: the decode flags do not apply here.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { LlmemError } from "@llmem/core";
import { llama2cToGguf } from "@llmem/gguf";

export const CONVERT_USAGE = "usage: bun run decode convert IN.bin OUT.gguf --tokenizer T.bin";

function bad(message: string): LlmemError {
  return new LlmemError("INVALID_ARGUMENT", `convert: ${message} (${CONVERT_USAGE})`);
}

function read(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `convert: cannot read the ${what} ${path}: ${(e as Error).message}`,
    );
  }
}

/** Runs the subcommand; returns the exit code and writes one summary line to `log`. */
export function runConvert(argv: readonly string[], log: (line: string) => void): number {
  const positional: string[] = [];
  let tokenizer: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      log(CONVERT_USAGE);
      return 0;
    }
    if (a === "--tokenizer") {
      tokenizer = argv[++i];
      if (tokenizer === undefined) throw bad("--tokenizer needs a path");
    } else if (a.startsWith("--tokenizer=")) tokenizer = a.slice("--tokenizer=".length);
    else if (a.startsWith("-")) throw bad(`unknown flag ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2) throw bad(`expected IN.bin and OUT.gguf, got ${positional.length} paths`);
  if (tokenizer === undefined) throw bad("--tokenizer T.bin is required");
  const [input, output] = positional as [string, string];
  const gguf = llama2cToGguf(read(input, "checkpoint"), read(tokenizer, "tokenizer"));
  writeFileSync(output, gguf);
  log(`wrote ${output} (${gguf.byteLength} bytes)`);
  return 0;
}
