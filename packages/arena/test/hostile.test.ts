/** Issue 16 in arena: marks cannot be forged or edited; a refused rollback changes nothing. */
import { expect, test } from "bun:test";
import { expectRefused } from "@llmem/core/testing";
import { Arena, ArenaMark } from "../src/index.ts";

test("a constructed or edited mark is refused and the arena is unchanged", () => {
  for (const checked of [false, true]) {
    const arena = new Arena(1024, { checked });
    const mark = arena.mark();
    arena.allocUninit(Float32Array, 8);
    const stats = () => arena.stats();
    // A live id with a made-up offset: before the fix, used became -16 and the next alloc
    // handed out the allocator's header.
    expectRefused(() => arena.rollback(new ArenaMark(arena, mark.id, -16, 0)), stats, "INVALID_ARGUMENT");
    for (const offset of [-64, 1e9, Number.NaN]) {
      const edited = arena.mark();
      expect(() => Object.defineProperty(edited, "offset", { value: offset })).not.toThrow();
      // The own property shadows the getter for readers, but rollback uses the private state.
      arena.rollback(edited);
      expect(arena.stats().used).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(arena.stats().used)).toBe(false);
    }
    expectRefused(
      () => arena.rollback({ arena, id: mark.id, offset: 0, allocationCount: 0 } as never),
      stats,
    );
    expectRefused(() => arena.rollback(null as never), stats);
    arena.rollback(mark);
    expect(arena.stats().used).toBe(0);
    arena.dispose();
  }
});

test("scratch().dispose() called directly gives its process-wide slot back", async () => {
  const { releaseScratch, scratch, scratchStats } = await import("../src/index.ts");
  releaseScratch();
  const before = scratchStats().active;
  scratch(64).dispose();
  expect(scratchStats().active).toBe(before);
  scratch(64);
  expect(scratchStats().active).toBe(before + 1);
  releaseScratch();
  expect(scratchStats().active).toBe(before);
});

test("fuzz finds: a count or ctor that is not what it claims is refused without running its code", async () => {
  const { refusesNaming, changingField } = await import("@llmem/core/testing");
  const { MemoryManager } = await import("../src/index.ts");
  const arena = new Arena(1024);
  arena.alloc(Uint8Array, 8);
  const stats = () => arena.stats();
  // A detached view as count: `count >= 0` ran its toString, which threw a TypeError.
  const detached = new Float32Array(4);
  detached.buffer.transfer();
  refusesNaming(() => arena.alloc(Uint8Array, detached as never), "count", stats);
  // A count whose valueOf allocates: the comparison ran it, changing the arena mid-call.
  let ran = false;
  const sneaky = {
    valueOf() {
      ran = true;
      return 8;
    },
  };
  refusesNaming(() => arena.alloc(Uint8Array, sneaky as never), "count", stats);
  expect(ran).toBe(false);
  // An object inheriting from a constructor: String(ctor) threw a TypeError building the message.
  refusesNaming(() => arena.alloc(Object.create(Float32Array), 4), "ctor", stats);
  refusesNaming(() => arena.alloc(Symbol("f32") as never, 4), "ctor", stats);
  arena.dispose();
  // forModel validated the dims, then read them again to size the manager.
  const honest = { hiddenDim: 64, vocabSize: 256, batchSize: 1 };
  const manager = MemoryManager.forModel(changingField(honest, "hiddenDim", 64, 2 ** 40));
  expect(manager.config).toEqual(MemoryManager.forModel(honest).config);
  manager.dispose();
});
