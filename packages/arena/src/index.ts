export {
  Arena,
  ArenaMark,
  type ArenaOptions,
  type ArenaStats,
  DEFAULT_ALIGN,
  MAX_ALIGN,
  MAX_ARENA_BYTES,
  type ModelDims,
} from "./arena.ts";
export {
  MemoryManager,
  type MemoryManagerOptions,
  type MemoryManagerStats,
  type StepPool,
} from "./manager.ts";
export {
  configureScratch,
  DEFAULT_MAX_SCRATCHES,
  DEFAULT_SCRATCH_BYTES,
  releaseScratch,
  resetScratch,
  type ScratchConfig,
  type ScratchStats,
  scratch,
  scratchStats,
} from "./scratch.ts";
