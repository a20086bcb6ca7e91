// Committed test vectors: these values are part of the format. A change here breaks every
// persisted or shared prefix cache, so it needs a new format version, not an updated vector.
import { expect, test } from "bun:test";
import { codeOf } from "@llmem/core/testing";
import { blockHash, formatHash, hashChain, hashWords } from "../src/index.ts";

const seq = Array.from({ length: 40 }, (_, i) => i);
const hex = (h: bigint, width: number) => h.toString(16).padStart(width, "0");

// fast vectors are also reproduced by the independent Python implementation in reference/lh64.py.
test("fast (LH64 v1) vectors", () => {
  expect(Array.from(hashChain(seq, 16), (h) => hex(h, 16))).toEqual(["4d3a969569fd72b8", "f4c1f4e3fe788ef5"]);
  expect(hex(blockHash(0n, []), 16)).toBe("8b99f72a2bdd9476");
  expect(hex(blockHash(0xffffffffffffffffn, [1, 2, 3]), 16)).toBe("a8dac3f0c0781f35");
  expect(hex(blockHash(0n, [4294967295], { lora: "adapter-a" }), 16)).toBe("d7896edc71262a23");
  expect(
    hex(blockHash(0n, [7, 8, 9, 10, 11, 12, 13, 14, 15], { multimodal: ["img"], salt: "tenant" }), 16),
  ).toBe("ef71a511eb9f937a");
  expect(hex(hashWords(seq), 16)).toBe("2c09bcb670e473cc");
  expect(Array.from(hashChain(seq, 8, { lora: 3, salt: "t1" }), (h) => hex(h, 16))).toEqual([
    "193cf0486970e24c",
    "ee4b72664c2d5e24",
    "25303caf0c775745",
    "1b0152922e0200a5",
    "56a44e9b8384238d",
  ]);
});

test("secure (SHA-256) vectors, checked against an independent encoder", () => {
  // python3: sha256(b"LLMEMPH1" + bytes(32) + pack("<I", 16) + b"".join(pack("<I", i) for i in range(16)))
  expect(hashChain(seq, 16, { mode: "secure" }).map((h) => hex(h, 64))).toEqual([
    "a0236fc11a36728405dc867c0bb79f0fd38427e5ab71fc3f6fa15c8f856e1778",
    "d444a73bac0dc49d62cd444927e1c3f14748f1594f659517efc300140ac753a7",
  ]);
  expect(hex(blockHash(0n, [], undefined, "secure"), 64)).toBe(
    "39d701971fbd4c3d533a8407b6583cfa0463aefd31b3c30d279d3227ab4121e3",
  );
});

test("formatHash gives fixed-width hex", () => {
  expect(formatHash(0x1fn)).toBe("000000000000001f");
  expect(formatHash(1n, "secure")).toHaveLength(64);
  expect(codeOf(() => formatHash(1n << 64n))).toBe("INVALID_ARGUMENT");
});
