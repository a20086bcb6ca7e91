export { Arena, MAX_ARENA_BYTES } from "./arena.ts";
