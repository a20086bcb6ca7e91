/**
 * `bun run decode tokenize --model FILE.gguf --text STR [--no-bos] [--parse-special] [--json]`:
 * the token ids of a text under the tokenizer a GGUF file carries (vocab-only files too), as
 * llama.cpp's llama-tokenize prints them. Control tokens' texts stay text unless
 * --parse-special (llama-tokenize parses them by default; we never do unasked). Kept apart
 * from args.ts: the decode flags do not apply here.
 */
import { existsSync } from "node:fs";
import { LlmemError } from "@llmem/core";
import { openGguf, tokenizerFromGguf } from "@llmem/gguf";

export const TOKENIZE_USAGE =
  "usage: bun run decode tokenize --model FILE.gguf --text STR [--no-bos] [--parse-special] [--json]";

function bad(message: string): LlmemError {
  return new LlmemError("INVALID_ARGUMENT", `tokenize: ${message} (${TOKENIZE_USAGE})`);
}

/** Runs the subcommand, writing its output with `out`; returns the exit code. */
export function runTokenize(argv: readonly string[], out: (text: string) => void): number {
  let model: string | undefined;
  let text: string | undefined;
  let noBos = false;
  let parseSpecial = false;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw bad(`${flag} needs a value`);
      return v;
    };
    if (flag === "--help" || flag === "-h") {
      out(`${TOKENIZE_USAGE}\n`);
      return 0;
    } else if (flag === "--model") model = value();
    else if (flag === "--text") text = value();
    else if (flag === "--no-bos") noBos = true;
    else if (flag === "--parse-special") parseSpecial = true;
    else if (flag === "--json") json = true;
    else throw bad(`unknown argument ${a}`);
  }
  if (model === undefined) throw bad("--model FILE.gguf is required");
  if (text === undefined) throw bad("--text STR is required");
  // openGguf reads a missing path as an empty (truncated) file; say what is wrong instead.
  if (!existsSync(model)) throw bad(`no file ${model}`);
  const tok = tokenizerFromGguf(openGguf(model).metadata);
  // As llama-tokenize: BOS (and EOS) only when the vocabulary adds BOS and --no-bos is absent.
  const tokens = tok.encode(text, { addSpecial: tok.addBos && !noBos, parseSpecial });
  if (json) {
    out(`${JSON.stringify({ tokens })}\n`);
  } else {
    for (const id of tokens) out(`${String(id).padStart(6)} -> ${JSON.stringify(tok.tokenText(id))}\n`);
  }
  return 0;
}
