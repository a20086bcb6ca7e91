/**
 * Random damage to valid files: whatever the bytes, parsing either succeeds or throws an
 * LlmemError (FORMAT_ERROR / UNSUPPORTED), quickly; never a RangeError, a hang or a huge
 * allocation.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { LlmemError } from "@llmem/core";
import { fixturePath } from "@llmem/core/testing";
import fc from "fast-check";
import { parseGguf, writeGguf } from "../src/index.ts";

const small = writeGguf({
  metadata: [
    ["general.architecture", "llama"],
    ["tokens", ["a", "b", "c"]],
    ["scores", new Float32Array([1, 2, 3])],
    ["nested", [new Int8Array([1]), ["z"]]],
  ],
  tensors: [
    { name: "a", type: "q4_K", dims: [256], data: new Uint8Array(144) },
    { name: "b", type: "f32", dims: [8], data: new Uint8Array(32) },
  ],
});

/** Overwrites: single bytes, or a u64 at any offset with an extreme or random value. */
const damage = (length: number) =>
  fc.array(
    fc.oneof(
      fc.record({ at: fc.nat(length - 1), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({
        at: fc.nat(length - 8),
        u64: fc.oneof(
          fc.constantFrom(0n, 1n, 5n, 1n << 31n, 1n << 32n, 1n << 40n, 1n << 63n, (1n << 64n) - 1n),
          fc.bigInt(0n, (1n << 64n) - 1n),
        ),
      }),
    ),
    { minLength: 1, maxLength: 4 },
  );

// No wall-clock bound here (tests do not assert time): a damaged count that made the parser
// allocate or loop over it would show as this test hanging or running out of memory.
function parsesOrLlmemError(bytes: Uint8Array): void {
  try {
    parseGguf(bytes);
  } catch (e) {
    if (!(e instanceof LlmemError)) throw e;
    expect(["FORMAT_ERROR", "UNSUPPORTED"]).toContain(e.code);
  }
}

function apply(base: Uint8Array, edits: ({ at: number; byte: number } | { at: number; u64: bigint })[]) {
  const bytes = base.slice();
  const view = new DataView(bytes.buffer);
  for (const e of edits) {
    if ("byte" in e) bytes[e.at] = e.byte;
    else view.setBigUint64(e.at, e.u64, true);
  }
  return bytes;
}

test("damaged small files: parsed or refused with an LlmemError", () => {
  fc.assert(
    fc.property(damage(small.byteLength), fc.nat(small.byteLength), (edits, cut) => {
      parsesOrLlmemError(apply(small, edits).subarray(0, Math.max(cut, 24)));
    }),
    { numRuns: 2000 },
  );
});

const q8 = fixturePath("gguf", "stories260K-q8_0.gguf");
test.skipIf(q8 === undefined)("damaged headers of a real file: parsed or refused with an LlmemError", () => {
  const file = readFileSync(q8!);
  const base = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const header = parseGguf(base).dataOffset;
  fc.assert(
    fc.property(damage(header), (edits) => parsesOrLlmemError(apply(base, edits))),
    { numRuns: 150 },
  );
});
