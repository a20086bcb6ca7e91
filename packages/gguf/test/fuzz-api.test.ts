/**
 * Hostile values into every entry point of the package that takes a caller's value (the file
 * bytes themselves are fuzzed in fuzz.test.ts): each call parses/writes or throws an LlmemError
 * naming what it refused, never a TypeError or RangeError from deep inside. These functions keep
 * no state, so there is nothing else to compare.
 */
import { describe, expect, test } from "bun:test";
import { LlmemError } from "@llmem/core";
import { hostileValue } from "@llmem/core/testing";
import fc from "fast-check";
import { ggmlTypeOf, parseGguf, tokenizerFromGguf, tokenizerSpecFromGguf, writeGguf } from "../src/index.ts";

/** The call returns, or throws an LlmemError whose message names `argument`. */
function returnsOrRefuses(fn: () => unknown, argument: RegExp): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof LlmemError)) throw new Error(`expected an LlmemError, got ${String(e)}`);
    expect(e.message).toMatch(argument);
  }
}

const valid = writeGguf({
  metadata: [["general.architecture", "llama"]],
  tensors: [{ name: "t", type: "f32", dims: [4], data: new Uint8Array(16) }],
});

describe("gguf API fuzz (fast-check): hostile arguments are refused by name", () => {
  test("parseGguf(input)", () => {
    fc.assert(
      fc.property(hostileValue, (v) => returnsOrRefuses(() => parseGguf(v as never), /input|GGUF/)),
      {
        numRuns: 300,
      },
    );
    expect(parseGguf(valid).tensorInfos.length).toBe(1);
  });

  test("writeGguf: the input, its metadata, tensors and each tensor's fields", () => {
    const slots: ((v: unknown) => unknown)[] = [
      (v) => writeGguf(v as never),
      (v) => writeGguf({ metadata: v } as never),
      (v) => writeGguf({ metadata: [], tensors: v } as never),
      (v) => writeGguf({ metadata: [v] } as never),
      (v) => writeGguf({ metadata: [["k", v]] } as never),
      (v) => writeGguf({ metadata: [], tensors: [v] } as never),
      (v) =>
        writeGguf({
          metadata: [],
          tensors: [{ name: v, type: "f32", dims: [4], data: new Uint8Array(16) }],
        } as never),
      (v) =>
        writeGguf({
          metadata: [],
          tensors: [{ name: "t", type: v, dims: [4], data: new Uint8Array(16) }],
        } as never),
      (v) =>
        writeGguf({
          metadata: [],
          tensors: [{ name: "t", type: "f32", dims: v, data: new Uint8Array(16) }],
        } as never),
      (v) => writeGguf({ metadata: [], tensors: [{ name: "t", type: "f32", dims: [4], data: v }] } as never),
      (v) => writeGguf({ metadata: [], version: v } as never),
    ];
    fc.assert(
      fc.property(fc.nat(slots.length - 1), hostileValue, (slot, v) =>
        returnsOrRefuses(() => slots[slot]!(v), /GGUF writer|input|metadata|tensor|version/),
      ),
      { numRuns: 600 },
    );
  });

  test("tokenizerFromGguf / tokenizerSpecFromGguf(meta) and ggmlTypeOf(name)", () => {
    fc.assert(
      fc.property(hostileValue, (v) => {
        returnsOrRefuses(() => tokenizerFromGguf(v as never), /meta|tokenizer/);
        returnsOrRefuses(() => tokenizerSpecFromGguf(v as never), /meta|tokenizer/);
        returnsOrRefuses(() => ggmlTypeOf(v as never), /ggml type/);
      }),
      { numRuns: 300 },
    );
  });
});
