// Committed test vectors: these values are part of the format. A change here breaks every
// persisted or shared prefix cache, so it needs a new format version, not an updated vector.
import { expect, test } from "bun:test";
import { blockHash, hashChain, hashWords } from "../src/index.ts";

const seq = Array.from({ length: 40 }, (_, i) => i);
const hex = (h: bigint, width: number) => h.toString(16).padStart(width, "0");

test("fast (LH64 v1) vectors", () => {
  expect(hashChain(seq, 16).map((h) => hex(h, 16))).toEqual(["b76874c35cf43589", "f23edf743c8daac5"]);
  expect(hex(blockHash(0n, []), 16)).toBe("120fb7c8475f5e58");
  expect(hex(blockHash(0xffffffffffffffffn, [1, 2, 3]), 16)).toBe("5225c223cbcc153f");
  expect(hex(blockHash(0n, [4294967295], { lora: "adapter-a" }), 16)).toBe("f90676417271f78d");
  expect(
    hex(blockHash(0n, [7, 8, 9, 10, 11, 12, 13, 14, 15], { multimodal: ["img"], salt: "tenant" }), 16),
  ).toBe("01ba245becd4619a");
  expect(hex(hashWords(seq), 16)).toBe("c61621268cfe9f65");
  expect(hashChain(seq, 8, { lora: 3, salt: "t1" }).map((h) => hex(h, 16))).toEqual([
    "461c6f09e9ac3765",
    "e358cb40268459b4",
    "f5ad9887f68c6565",
    "49aed4191f026583",
    "54c5f86967711266",
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
