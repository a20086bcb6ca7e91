/**
 * GGUF's type table (every ggml type, so any valid file's tensor sizes can be checked) and
 * llmem's format table (the formats the kernels compute with) describe the same blocks twice:
 * every format llmem knows by a ggml name must have ggml's block size and bytes, or a tensor
 * would be sized by one table and read by the other.
 */
import { describe, expect, test } from "bun:test";
import { FORMAT_LIST } from "@llmem/core";
import { GGML_TYPES, ggmlTypeOf } from "../src/index.ts";

describe("ggml types agree with llmem's format table", () => {
  const ggmlNames = new Set([...GGML_TYPES.values()].map((t) => t.name));
  const shared = FORMAT_LIST.filter((f) => ggmlNames.has(f.name));

  test("every llmem format is a ggml type (llmem adds none of its own)", () => {
    expect(FORMAT_LIST.filter((f) => !ggmlNames.has(f.name)).map((f) => f.name)).toEqual([]);
  });

  test.each(shared.map((f) => [f.name, f] as const))("%s: block size and bytes", (_name, f) => {
    const t = ggmlTypeOf(f.name);
    expect({ blockSize: t.blockSize, bytes: t.typeSize }).toEqual({
      blockSize: f.blockSize,
      bytes: f.blockBytes,
    });
  });
});
