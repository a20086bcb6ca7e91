/**
 * Writes a synthetic checkpoint (and its tokenizer) to disk, for comparing with other
 * llama2.c-compatible programs and for benchmarks:
 *   bun examples/decode/src/write-synthetic.ts OUT_DIR dim hidden layers heads kv_heads vocab seq_len [shared|separate] [seed]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelConfig } from "./config.ts";
import { syntheticCheckpoint, syntheticTokenizer } from "./synthetic.ts";

/** The file bytes of a synthetic checkpoint (without the in-memory alignment padding). */
export function syntheticCheckpointFile(c: ModelConfig, seed = 1): Uint8Array {
  const padded = syntheticCheckpoint(c, seed);
  return padded.subarray(64 - 28);
}

if (import.meta.main) {
  const [out, ...rest] = process.argv.slice(2);
  const n = rest.slice(0, 7).map(Number);
  if (!out || n.length !== 7 || n.some((v) => !Number.isInteger(v) || v < 1)) {
    console.error(
      "usage: write-synthetic.ts OUT_DIR dim hidden layers heads kv_heads vocab seq_len [shared|separate] [seed]",
    );
    process.exit(2);
  }
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen] = n as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const c: ModelConfig = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize,
    seqLen,
    sharedClassifier: rest[7] !== "separate",
  };
  const seed = Number(rest[8] ?? 1);
  writeFileSync(join(out, "model.bin"), syntheticCheckpointFile(c, seed));
  writeFileSync(join(out, "tokenizer.bin"), syntheticTokenizer(vocabSize));
  console.log(`wrote ${join(out, "model.bin")} and tokenizer.bin`);
}
