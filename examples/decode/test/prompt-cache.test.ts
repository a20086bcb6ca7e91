/**
 * A prompt's KV saved to a file by one run and restored by another gives token-identical
 * output (stories260K, greedy) while skipping the restored prefill; a damaged file is refused
 * and the run that refused it recomputes the same tokens.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePath } from "@llmem/core/testing";
import { type PagedSequence, restoreKvFile, saveKvFile } from "@llmem/kv-cache";
import { readCheckpoint } from "../src/checkpoint.ts";
import { quantKernels } from "../src/kernels.ts";
import { fingerprintOf } from "../src/kv-fingerprint.ts";
import { KvStore } from "../src/kv-store.ts";
import { Transformer } from "../src/model.ts";
import { runRequests } from "../src/scheduler.ts";
import { Tokenizer } from "../src/tokenizer.ts";

const dir = mkdtempSync(join(tmpdir(), "llmem-prompt-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const modelPath = fixturePath("stories260K.bin");
const tokPath = fixturePath("tok512.bin");

test.skipIf(modelPath === undefined)(
  "a restored prompt cache gives the tokens of a cold run and skips the prefix",
  () => {
    const ckpt = readCheckpoint(modelPath!);
    const tok = Tokenizer.read(tokPath!, ckpt.config.vocabSize);
    const kernels = quantKernels;
    const model = new Transformer(ckpt, { format: "f32", kernels });
    const fp = fingerprintOf(model);
    const prompt = tok.encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park",
    );
    const store = () =>
      new KvStore(ckpt.config, {
        blockSize: 16,
        numBlocks: 2 * Math.ceil(ckpt.config.seqLen / 16),
        format: "f32",
      });
    const run = (kv: KvStore) =>
      runRequests([{ prompt, seed: 1n }], {
        model,
        tokenizer: tok,
        kv,
        steps: 120,
        temperature: 0,
        topp: 0.9,
        maxLive: 1,
      }).sequences[0]!;

    const cold = run(store());
    expect(cold.reused).toBe(0);

    const first = store();
    run(first);
    const path = join(dir, "stories.kv");
    const saved = saveKvFile(first.cache, path, { model: fp });
    expect(saved.blocks).toBeGreaterThanOrEqual(Math.floor(prompt.length / 16));

    const second = store();
    const restored = restoreKvFile(second.cache, path, { model: fp });
    expect(restored.blocks).toBe(saved.blocks);
    const warm = run(second);
    expect(warm.tokens).toEqual(cold.tokens);
    const fullBlocks = Math.floor((prompt.length - 1) / 16) * 16;
    expect(warm.reused).toBe(fullBlocks);
    expect((warm.kv as PagedSequence).reusedFrom).toEqual({ device: 0, host: 0, file: fullBlocks, redis: 0 });

    // one flipped payload byte: refused, nothing loaded, and the run recomputes the same tokens
    const damaged = Uint8Array.from(readFileSync(path));
    damaged[damaged.length - 5]! ^= 0x10;
    writeFileSync(join(dir, "damaged.kv"), damaged);
    const third = store();
    const before = third.cache.stats();
    expect(() => restoreKvFile(third.cache, join(dir, "damaged.kv"), { model: fp })).toThrow(/checksum/);
    expect(third.cache.stats()).toEqual(before);
    const recomputed = run(third);
    expect(recomputed.reused).toBe(0);
    expect(recomputed.tokens).toEqual(cold.tokens);
    model.dispose();
  },
);
