/**
 * Reads a llama2.c `.bin` checkpoint into one buffer whose float data starts 64-byte
 * aligned, and hands out zero-copy Float32Array views of each tensor in run.c's order.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { totalmem } from "node:os";
import { LlmemError } from "@llmem/core";
import {
  checkpointBytes,
  HEADER_BYTES,
  type ModelConfig,
  parseHeader,
  type TensorName,
  tensorLayout,
} from "./config.ts";

/** Header lands at PAD..64 so the first float is at byte 64 of the buffer. */
const PAD = 64 - HEADER_BYTES;
const CHUNK = 64 << 20;

export interface Checkpoint {
  config: ModelConfig;
  tensors: Record<TensorName, Float32Array>;
  /** Bytes of float weights in the file (header excluded). */
  weightBytes: number;
}

export type Progress = (done: number, total: number) => void;

/** A zeroed buffer laid out as `loadCheckpointBytes` expects: PAD bytes, then the file. */
export function allocCheckpointBuffer(fileBytes: number): Uint8Array {
  return new Uint8Array(PAD + fileBytes);
}

function sizeError(config: ModelConfig, actual: number, what: string): LlmemError {
  const expected = checkpointBytes(config);
  const verb = actual < expected ? "is truncated" : "has trailing bytes";
  return new LlmemError(
    "FORMAT_ERROR",
    `${what} ${verb}: ${actual} bytes, but its header (dim ${config.dim}, hidden_dim ${config.hiddenDim}, ` +
      `n_layers ${config.nLayers}, n_heads ${config.nHeads}, n_kv_heads ${config.nKvHeads}, ` +
      `vocab_size ${config.vocabSize}, seq_len ${config.seqLen}) needs exactly ${expected}`,
    { bytes: actual, expected },
  );
}

/** Views over a padded buffer (PAD + file bytes) after validating the size against the header. */
export function viewCheckpoint(padded: Uint8Array, what: string): Checkpoint {
  const file = padded.subarray(PAD);
  const config = parseHeader(file, what);
  const expected = checkpointBytes(config);
  if (file.length !== expected) throw sizeError(config, file.length, what);
  const tensors = {} as Record<TensorName, Float32Array>;
  let offset = padded.byteOffset + PAD + HEADER_BYTES;
  for (const [name, count] of tensorLayout(config)) {
    tensors[name] = new Float32Array(padded.buffer, offset, count);
    offset += count * 4;
  }
  if (config.sharedClassifier) tensors.wcls = tensors.tokenEmbedding;
  return { config, tensors, weightBytes: expected - HEADER_BYTES };
}

/** Reads a checkpoint file; `extraBytes` adds what the run needs beside the file to the memory check. */
export function readCheckpoint(
  path: string,
  options: { progress?: Progress; extraBytes?: (c: ModelConfig) => number } = {},
): Checkpoint {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `cannot open model ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  try {
    const stat = fstatSync(fd);
    // open(2) succeeds on a directory; the read would then fail with a bare EISDIR.
    if (stat.isDirectory())
      throw new LlmemError("INVALID_ARGUMENT", `model ${path} is a directory: pass the model file inside it`);
    const size = stat.size;
    const head = new Uint8Array(HEADER_BYTES);
    readSync(fd, head, 0, Math.min(size, HEADER_BYTES), 0);
    const config = parseHeader(head.subarray(0, Math.min(size, HEADER_BYTES)), `model ${path}`);
    const need = checkpointBytes(config) + (options.extraBytes?.(config) ?? 0);
    if (need > totalmem()) {
      throw new LlmemError(
        "CAPACITY_EXCEEDED",
        `model ${path} needs ${gib(need)} GiB (weights, KV cache, buffers), this machine has ${gib(totalmem())} GiB`,
        { need, total: totalmem() },
      );
    }
    if (size !== checkpointBytes(config)) throw sizeError(config, size, `model ${path}`);
    const padded = allocCheckpointBuffer(size);
    for (let done = 0; done < size; ) {
      const n = readSync(fd, padded, PAD + done, Math.min(CHUNK, size - done), done);
      if (n <= 0)
        throw new LlmemError("FORMAT_ERROR", `model ${path}: read failed at byte ${done} of ${size}`);
      done += n;
      options.progress?.(done, size);
    }
    return viewCheckpoint(padded, `model ${path}`);
  } finally {
    closeSync(fd);
  }
}

function gib(n: number): string {
  return (n / 2 ** 30).toFixed(2);
}
