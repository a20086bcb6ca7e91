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
