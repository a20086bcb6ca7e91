/** The command line end to end: the published story, --json, the embedded default, and every failure as one line + exit 2. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";
import { syntheticTokenizer } from "../src/synthetic.ts";
import { escapeControls } from "../src/terminal-text.ts";
import { syntheticCheckpointFile } from "../src/write-synthetic.ts";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
// The shared fixtures: a visible SKIPPED line when absent, a failure under CI=true.
const STORIES = fixturePath("stories260K.bin");
const TOK512 = fixturePath("tok512.bin");
const MODELS_README = fixturePath("README.md");
const haveModels = STORIES !== undefined && TOK512 !== undefined && MODELS_README !== undefined;

// What a terminal would interpret: C0 controls but \t and \n, DEL, C1.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

// script(1) (util-linux) gives the CLI a pseudo-terminal; CI has it.
const HAVE_SCRIPT = Bun.which("script") !== null;
if (!HAVE_SCRIPT) {
  if (process.env.CI === "true")
    throw new Error("script(1) is missing (CI=true: the terminal test must run)");
  console.warn("SKIPPED: the terminal-escaping test needs script(1) from util-linux");
}

function run(args: string[]) {
  const r = Bun.spawnSync(["bun", CLI, ...args], { env: { ...process.env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

// Every temp directory this file makes, removed when it ends.
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "llmem-decode-"));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const tmp = tempDir();
const shape = {
  dim: 64,
  hiddenDim: 128,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 300,
  seqLen: 64,
  sharedClassifier: false,
};
const model = join(tmp, "model.bin");
const tokenizer = join(tmp, "tokenizer.bin");
writeFileSync(model, syntheticCheckpointFile(shape));
writeFileSync(tokenizer, syntheticTokenizer(300));

describe("bun run decode", () => {
  test.skipIf(!haveModels)("greedy stories260K prints exactly the story published with the model", () => {
    const readme = readFileSync(MODELS_README!, "utf8");
    const story = readme.split("```")[1]!.trim();
    const r = run([
      "--model",
      STORIES!,
      "--tokenizer",
      TOK512!,
      "--temperature",
      "0",
      "--prompt",
      "Once upon a time",
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${story}\n`);
    expect(r.err).toMatch(/prefill: 4 tok at [\d.]+ tok\/s · decode: 252 tok at [\d.]+ tok\/s/);
    expect(r.err).toMatch(
      /memory: weights .* · KV .* · arena high-water .* · pool hit rate .* · prefix cache/,
    );
  });

  test("--json prints one object with tokens, text and tok/s", () => {
    const r = run([
      "--model",
      model,
      "--tokenizer",
      tokenizer,
      "--temperature",
      "0",
      "--prompt",
      "the girl",
      "--steps",
      "20",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.tokens.length).toBe(20); // one id per position, as run.c prints
    expect(typeof j.text).toBe("string");
    expect(j.tokPerSec).toBeGreaterThan(0);
    expect(j.memory.weightBytes).toBeGreaterThan(0);
  });

  test("--warmup N: N untimed runs first, the same tokens reported, and a prompt cache untouched by them", () => {
    // A prompt of more than one full KV block, so a saved cache would be reused.
    const prompt =
      "once upon a time there was a little girl named lily she loved to play outside in the park one day";
    const base = ["--model", model, "--tokenizer", tokenizer, "--temperature", "0", "--prompt", prompt];
    const cold = JSON.parse(run([...base, "--steps", "60", "--json"]).out);
    const dir = tempDir();
    const cache = join(dir, "kv.bin");
    const warm = run([...base, "--steps", "60", "--json", "--warmup", "2", "--prompt-cache", cache]);
    expect(warm.code).toBe(0);
    const j = JSON.parse(warm.out);
    expect(j.warmupRuns).toBe(2);
    expect(cold.warmupRuns).toBe(0);
    expect(j.tokens).toEqual(cold.tokens);
    // The reported run computed its prompt itself: a warm-up that saved the cache would have let
    // it reuse the prompt's blocks.
    expect(j.requests[0].reusedTokens).toBe(0);
    // ... which the next run does.
    expect(
      JSON.parse(run([...base, "--steps", "60", "--json", "--prompt-cache", cache]).out).requests[0]
        .reusedTokens,
    ).toBeGreaterThan(0);
    for (const bad of ["-1", "21", "1.5", "x"]) {
      const r = run([...base, "--warmup", bad]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("--warmup");
    }
  });

  test("the embedded default: one screen, 'synthetic' in its first three lines, no raw control bytes", () => {
    // stdout and stderr as a terminal shows them: one stream, in order.
    const r = Bun.spawnSync(["bash", "-c", `"${process.execPath}" "${CLI}" --seed 1 2>&1`]);
    expect(r.exitCode).toBe(0);
    const screen = r.stdout.toString();
    const lines = screen.trimEnd().split("\n");
    expect(lines.slice(0, 3).join("\n")).toContain("synthetic");
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const id of [0, 1, 2])
      expect(screen).toMatch(
        new RegExp(`^request ${id}: \\d+ prompt \\+ \\d+ generated tokens, \\d+ from the prefix cache$`, "m"),
      );
    expect(screen).toMatch(
      /^requests: 3 · prompt tokens \d+, 64 reused from the prefix cache \(4 blocks shared\)$/m,
    );
    expect(screen).toMatch(/^prefill: .* tok\/s · decode: .* tok\/s/m);
    expect(screen).toMatch(
      /^memory: weights .* · KV f32 blocks \(peak in use\) .*, f32 pool .* · arena high-water .* · pool hit rate/m,
    );
    expect(screen).not.toMatch(CONTROL);
    // Seed 1's random text holds controls: they are there, escaped.
    expect(screen).toMatch(/\\x0[bcd]|\\x1[0-9a-f]/);
  });

  test.skipIf(!HAVE_SCRIPT)(
    "a real model on a terminal: the text streams with its control characters escaped",
    () => {
      const args = `--model "${model}" --tokenizer "${tokenizer}" --steps 64 --seed 1`;
      // Piped, the bytes pass as the model emitted them: seed 1 emits a CR.
      const piped = run(["--model", model, "--tokenizer", tokenizer, "--steps", "64", "--seed", "1"]);
      expect(piped.out).toContain("\r");
      // On a terminal (a pty from script(1)) the same text arrives escaped.
      const r = Bun.spawnSync(["script", "-qec", `"${process.execPath}" "${CLI}" ${args}`, "/dev/null"]);
      expect(r.exitCode).toBe(0);
      const screen = r.stdout
        .toString()
        .replace(/\r(loading|quantizing) \d+%/g, "") // the progress line, ours: cleared with ESC[K
        .replaceAll("\r\x1b[K", "")
        .replaceAll("\r\n", "\n"); // the pty's newline translation
      expect(screen).not.toMatch(CONTROL);
      expect(screen).toContain("\\x0d");
      expect(screen.split("\n")[0]).toBe(escapeControls(piped.out.split("\n")[0]!));
    },
  );

  test("--requests decodes every line", () => {
    const reqs = join(tmp, "requests.txt");
    writeFileSync(reqs, "the girl\nthe boy\n\nthe dog\n");
    const r = run([
      "--model",
      model,
      "--tokenizer",
      tokenizer,
      "--requests",
      reqs,
      "--steps",
      "16",
      "--json",
      "--seed",
      "3",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).requests.length).toBe(3);
  });

  const failures: [string, string[], RegExp][] = [
    ["unknown flag", ["--nope"], /unknown flag "--nope"/],
    ["missing value", ["--steps"], /--steps needs a value/],
    ["bad number", ["--temperature", "hot"], /--temperature must be a number/],
    ["top-p out of range", ["--topp", "1.5"], /--topp must be a number in \[0, 1\]/],
    ["bad seed", ["--seed", "-3"], /--seed must be an integer/],
    ["bad weights", ["--weights", "q2"], /--weights must be one of f32, q8_0, q4_0/],
    ["missing model", ["--model", join(tmp, "nope.bin")], /cannot open model .*nope.bin: ENOENT/],
    ["missing tokenizer", ["--model", model, "--tokenizer", join(tmp, "nope.bin")], /cannot open tokenizer/],
    [
      "--prompt with --requests",
      ["--model", model, "--tokenizer", tokenizer, "--prompt", "x", "--requests", model],
      /--prompt and --requests cannot be combined/,
    ],
  ];
  for (const [name, args, msg] of failures) {
    test(`${name}: one error line, exit 2`, () => {
      const r = run(args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split("\n").length).toBe(1);
      expect(r.err).not.toContain("    at ");
    });
  }

  test("a truncated checkpoint and a tokenizer for another vocabulary: one line, exit 2", () => {
    const bytes = readFileSync(model);
    const cut = join(tmp, "cut.bin");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    let r = run(["--model", cut, "--tokenizer", tokenizer]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^decode: model .*cut.bin is truncated: \d+ bytes, but its header .* needs exactly \d+\n$/,
    );
    const otherTok = join(tmp, "tok512.bin");
    writeFileSync(otherTok, syntheticTokenizer(512));
    r = run(["--model", model, "--tokenizer", otherTok]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^decode: tokenizer .* holds 512 tokens but the model's vocab_size is 300 .*\n$/);
  });
});

test("the default tokenizer is the one beside the model; without it the error says how to pass one", () => {
  const dir = tempDir();
  writeFileSync(join(dir, "model.bin"), readFileSync(model));
  let r = run(["--model", join(dir, "model.bin")]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(
    /^decode: no tokenizer for vocab_size 300 beside model .*model.bin: cannot open tokenizer .*tokenizer.bin: ENOENT; cannot open tokenizer .*tok300.bin: ENOENT; pass --tokenizer PATH\n$/,
  );
  writeFileSync(join(dir, "tokenizer.bin"), syntheticTokenizer(300));
  // A fixed seed: a clock seed let the random model sample BOS and end early now and then.
  r = run(["--model", join(dir, "model.bin"), "--steps", "8", "--seed", "42", "--json"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).tokens.length).toBe(8);
});

test("a tokenizer.bin for another vocabulary beside the model: tok{vocab}.bin is used, else the error says which flag", () => {
  const dir = tempDir();
  writeFileSync(join(dir, "model.bin"), readFileSync(model));
  writeFileSync(join(dir, "tokenizer.bin"), syntheticTokenizer(512));
  let r = run(["--model", join(dir, "model.bin"), "--steps", "8", "--seed", "42", "--json"]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(
    /^decode: no tokenizer for vocab_size 300 .*tokenizer.bin holds 512 tokens but the model's vocab_size is 300 .*tok300.bin: ENOENT; pass --tokenizer PATH\n$/,
  );
  writeFileSync(join(dir, "tok300.bin"), syntheticTokenizer(300));
  r = run(["--model", join(dir, "model.bin"), "--steps", "8", "--seed", "42", "--json"]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).tokens.length).toBe(8);
});

test.skipIf(STORIES === undefined)("--model stories260K.bin alone finds tok512.bin beside it", () => {
  const r = run(["--model", STORIES!, "--steps", "8", "--temperature", "0", "--json"]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).text).toStartWith("Once upon a time");
});

test("--model DIR: the error names the directory", () => {
  const r = run(["--model", tmp]);
  expect(r.code).toBe(2);
  expect(r.err).toBe(`decode: model ${tmp} is a directory: pass the model file inside it\n`);
});

test("a prompt longer than the run: one warning line with the counts, the run still ends with 0", () => {
  const r = run([
    "--model",
    model,
    "--tokenizer",
    tokenizer,
    "--steps",
    "4",
    "--prompt",
    "abcdefghij",
    "--json",
  ]);
  expect(r.code).toBe(0);
  const prompt = JSON.parse(r.out).tokens.length;
  expect(r.err).toMatch(
    /^decode: warning: the prompt is (\d+) tokens but the run has 4 positions \(--steps 4, seq_len 64\): cut at 4, nothing generated for it\n$/,
  );
  expect(Number(/the prompt is (\d+) tokens/.exec(r.err)![1])).toBeGreaterThan(4);
  expect(prompt).toBe(4);
  // A prompt that fits says nothing.
  expect(
    run(["--model", model, "--tokenizer", tokenizer, "--steps", "40", "--prompt", "abc", "--json"]).err,
  ).toBe("");
});

test("a reader closing the pipe early (`| head -1`): exit 0, nothing on stderr", () => {
  // `true` exits before the first write: every write after it meets a closed pipe (EPIPE).
  const r = Bun.spawnSync([
    "bash",
    "-c",
    `"${process.execPath}" "${CLI}" --steps 64 | true; exit \${PIPESTATUS[0]}`,
  ]);
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
});

test("a model too large for this machine: one line, exit 2, before reading the weights", () => {
  const dir = tempDir();
  const huge = join(dir, "huge.bin");
  const header = new Int32Array([65536, 262144, 1024, 512, 512, 32000, 4096]);
  writeFileSync(huge, new Uint8Array(header.buffer));
  const r = run(["--model", huge, "--tokenizer", tokenizer]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(
    /^decode: model .*huge.bin needs [\d.]+ GiB \(weights, KV cache, buffers\), this machine has [\d.]+ GiB\n$/,
  );
});

describe("quantized weights, quantized K/V and threads end to end", () => {
  const dir = tempDir();
  const wide = {
    dim: 128,
    hiddenDim: 256,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    vocabSize: 300,
    seqLen: 64,
    sharedClassifier: false,
  };
  writeFileSync(join(dir, "model.bin"), syntheticCheckpointFile(wide, 5));
  writeFileSync(join(dir, "tokenizer.bin"), syntheticTokenizer(300));
  const tokens = (extra: string[]) => {
    const r = run([
      "--model",
      join(dir, "model.bin"),
      "--prompt",
      "the girl",
      "--seed",
      "9",
      "--steps",
      "48",
      "--json",
      ...extra,
    ]);
    expect(r.code).toBe(0);
    return JSON.parse(r.out).tokens as number[];
  };
  for (const weights of ["f32", "q8_0", "q4_0"]) {
    for (const kv of ["f32", "f16", "q8_0", "q4_0"]) {
      test(`--weights ${weights} --kv ${kv}: 2 threads give the tokens of 1 thread`, () => {
        const one = tokens(["--weights", weights, "--kv", kv]);
        expect(one.length).toBeGreaterThan(2);
        expect(tokens(["--weights", weights, "--kv", kv, "--threads", "2"])).toEqual(one);
      });
    }
  }
});

test.skipIf(!haveModels)(
  "q8_0 weights keep stories260K's greedy story for over 100 tokens (f32 for the 172-wide W2)",
  () => {
    const ids = (weights: string) => {
      const r = run([
        "--model",
        STORIES!,
        "--tokenizer",
        TOK512!,
        "--temperature",
        "0",
        "--prompt",
        "Once upon a time",
        "--weights",
        weights,
        "--json",
      ]);
      expect(r.code).toBe(0);
      return JSON.parse(r.out).tokens as number[];
    };
    const f32 = ids("f32");
    const q8 = ids("q8_0");
    let same = 0;
    while (same < f32.length && f32[same] === q8[same]) same++;
    expect(same).toBeGreaterThan(100);
  },
);
