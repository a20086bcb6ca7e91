/**
 * Issue 16 in kv-cache: attention's views are measured by the engine, the arguments are read
 * once, and token lists of any shape end in an LlmemError with nothing changed.
 */
import { describe, expect, test } from "bun:test";
import { changingField, expectRefused, guarded, hostileScalar, lyingViews } from "@llmem/core/testing";
import fc from "fast-check";
import { type PagedAttentionArgs, PagedKvCache, pagedAttention } from "../src/index.ts";

const HD = 32;

function args(over: Partial<PagedAttentionArgs> = {}): PagedAttentionArgs {
  return {
    format: "f32",
    query: new Float32Array(2 * HD).fill(1),
    numHeads: 2,
    numKvHeads: 1,
    headDim: HD,
    kPool: new Float32Array(2 * 4 * HD),
    vPool: new Float32Array(2 * 4 * HD),
    blockTable: new Uint32Array([0, 1]),
    blockSize: 4,
    numTokens: 6,
    scale: 1,
    out: new Float32Array(2 * HD),
    lse: new Float32Array(2),
    ...over,
  };
}

describe("pagedAttention", () => {
  test("out, lse and query are measured by the engine (an own length of 64 on a Float32Array(1))", () => {
    for (const [label, v] of lyingViews(Float32Array, 1, 2 * HD)) {
      expectRefused(() => pagedAttention(args({ out: v as Float32Array })), undefined, "INVALID_ARGUMENT");
      expectRefused(() => pagedAttention(args({ query: v as Float32Array })), undefined, "INVALID_ARGUMENT");
      void label;
    }
    for (const [, v] of lyingViews(Float32Array, 1, 2)) {
      expectRefused(() => pagedAttention(args({ lse: v as Float32Array })), undefined, "INVALID_ARGUMENT");
    }
    const lyingPool = new Float32Array(4 * HD);
    Object.defineProperty(lyingPool, "byteLength", { value: 2 * 4 * HD * 4 });
    expectRefused(() => pagedAttention(args({ kPool: lyingPool })));
  });

  test("arguments are read once: a block table or token count that changes after the checks", () => {
    const out = guarded(Float32Array, 2 * HD);
    const lse = guarded(Float32Array, 2);
    const bad = new Uint32Array([0, 1_000_000]);
    pagedAttention(
      changingField(args({ out: out.view, lse: lse.view }), "blockTable", new Uint32Array([0, 1]), bad),
    );
    pagedAttention(changingField(args({ out: out.view, lse: lse.view }), "numTokens", 6, 2 ** 20));
    expect(out.intact() && lse.intact()).toBe(true);
    expect(Number.isFinite(lse.view[0]!)).toBe(true);
  });

  test("canary: exact-size views in guarded buffers, guards untouched", () => {
    const out = guarded(Float32Array, 2 * HD);
    const lse = guarded(Float32Array, 2);
    pagedAttention(args({ out: out.view, lse: lse.view }));
    expect(out.intact() && lse.intact()).toBe(true);
  });
});

describe("PagedKvCache", () => {
  const make = () =>
    new PagedKvCache({ numLayers: 1, numKvHeads: 1, headDim: HD, blockSize: 4, numBlocks: 4 });

  test("attend refuses a query or out that lies about its length", () => {
    const cache = make();
    const seq = cache.admit([1, 2, 3])!;
    seq.beginStep(1);
    seq.write(0, new Float32Array(HD), new Float32Array(HD));
    for (const [, v] of lyingViews(Float32Array, 1, HD)) {
      expectRefused(
        () => seq.attend(0, v as Float32Array, new Float32Array(HD)),
        () => cache.stats(),
      );
      expectRefused(
        () => seq.attend(0, new Float32Array(HD), v as Float32Array),
        () => cache.stats(),
      );
    }
  });

  test("token lists of a hostile shape are an LlmemError and change nothing", () => {
    const cache = make();
    for (const tokens of [
      { length: -1 },
      { length: 2 ** 40 },
      { length: 1.5 },
      { length: Number.NaN },
      null,
      5,
    ]) {
      expectRefused(
        () => cache.admit(tokens as never),
        () => cache.stats(),
      );
    }
    const seq = cache.admit([1])!;
    const before = cache.stats();
    expectRefused(
      () => seq.beginStep({ length: 2 ** 40 } as never),
      () => cache.stats(),
    );
    expect(cache.stats()).toEqual(before);
  });
});

test("a tiered cache refuses non-finite rows at the door (its store tier cannot hold them)", () => {
  const cache = new PagedKvCache({
    numLayers: 1,
    numKvHeads: 1,
    headDim: HD,
    blockSize: 4,
    numBlocks: 4,
    tiers: { recentBlocks: 1, storeFormat: "q8_0", numStoreBlocks: 2 },
  });
  const seq = cache.admit([1])!;
  seq.beginStep(1);
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    const k = new Float32Array(HD);
    k[3] = bad;
    expectRefused(
      () => seq.write(0, k, new Float32Array(HD)),
      () => cache.stats(),
      "INVALID_ARGUMENT",
    );
    expectRefused(
      () => seq.write(0, new Float32Array(HD), k),
      () => cache.stats(),
      "INVALID_ARGUMENT",
    );
  }
  seq.write(0, new Float32Array(HD), new Float32Array(HD));
  seq.end();
});

test("fuzz (fast-check): every hostile shape argument of pagedAttention is an LlmemError, nothing written", () => {
  const fields = ["numHeads", "numKvHeads", "headDim", "blockSize", "numTokens", "scale"] as const;
  fc.assert(
    fc.property(fc.constantFrom(...fields), hostileScalar, (field, value) => {
      if (field === "scale" && typeof value === "number" && Number.isFinite(value)) return;
      if (value === 0 && field === "numTokens") return; // -0 tokens: a valid empty call
      const out = guarded(Float32Array, 2 * HD);
      out.view.fill(7);
      expectRefused(() => pagedAttention(args({ out: out.view, [field]: value })));
      expect(out.intact() && out.view.every((x) => x === 7)).toBe(true);
    }),
  );
});

test("fuzz finds: writeBlockPayload checks its origin before overwriting; payloads measured by the engine", async () => {
  const { refusesNaming } = await import("@llmem/core/testing");
  const cache = new PagedKvCache({ numLayers: 1, numKvHeads: 1, headDim: HD, blockSize: 4, numBlocks: 4 });
  const seq = cache.admit([1, 2, 3, 4])!;
  seq.beginStep([1, 2, 3, 4]);
  seq.write(0, new Float32Array(4 * HD).fill(0.5), new Float32Array(4 * HD).fill(0.25));
  seq.end();
  const block = seq.blockIds()[0]!;
  const kv = () => Array.from(cache.readBlockPayload(block));
  // A bad origin was found after the block had been overwritten with the payload.
  refusesNaming(
    () => cache.writeBlockPayload(block, new Uint8Array(cache.blockPayloadBytes), "disk" as never),
    "origin",
    kv,
  );
  // An own length equal to the payload size on a shorter array passed `instanceof` + `.length`.
  const short = new Uint8Array(8);
  Object.defineProperty(short, "length", { value: cache.blockPayloadBytes });
  refusesNaming(() => cache.writeBlockPayload(block, short, "redis"), "payload", kv);
  // The cache's own beginStep took any list; the block table refused it naming its `count`.
  refusesNaming(() => cache.beginStep(seq, { length: -1 } as never), "tokens", kv);
});
