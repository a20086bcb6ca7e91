/**
 * Saving a PagedKvCache's registered prefix blocks to a KV file and restoring them, so a later
 * process with the same model skips their prefill. Restore validates the whole file first
 * (header, model, layout, every record) and only then touches the cache: a bad file is an
 * LlmemError and the cache is exactly as it was.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import type { BlockAllocator } from "@llmem/block-allocator";
import { LlmemError } from "@llmem/core";
import { blockHashFromWords, type HashMode, ROOT_HASH } from "@llmem/prefix-hash";
import type { HostBlock } from "../host-tier.ts";
import type { PagedKvCache, PagedSequence } from "../paged.ts";
import {
  encodeHeader,
  encodeRecord,
  type FileBlock,
  type FileLayout,
  parseHeader,
  parseRecords,
  recordBytes,
} from "./format.ts";
import type { ModelFingerprint } from "./model-fingerprint.ts";

export interface KvFileOptions {
  /** The model the KV was computed by (`modelFingerprint`); a file of another model is refused. */
  model: ModelFingerprint;
}

export interface RestoreOptions extends KvFileOptions {
  /**
   * When the pool has fewer free unpromised blocks than the file holds: false (default) refuses
   * the file (CAPACITY_EXCEEDED); true restores its first blocks, parents before children, as
   * many as fit (the file is still validated whole first).
   */
  fit?: boolean;
}

export interface SaveOptions extends KvFileOptions {
  /**
   * Only this sequence's registered full blocks (default: every registered block of the cache,
   * and the blocks only its host tier holds).
   */
  sequence?: PagedSequence;
  /** Hash mode the cache's blocks were hashed in (default "fast"); blocks of the other mode are skipped. */
  mode?: HashMode;
}

export interface SaveResult {
  blocks: number;
  bytes: number;
  /** Registered (or host-tier) blocks left out: their chain is broken (a recycled parent) or hashed otherwise. */
  skipped: number;
}

export interface RestoreResult {
  /** Blocks copied into the pool and registered. */
  blocks: number;
  /** Blocks the pool already held (verified): nothing copied. */
  present: number;
  /** Blocks not restored because the pool holds their hash for other content (or their parent was not restored). */
  skipped: number;
  /** Blocks left out because the pool had no room for them (`fit: true`). */
  leftOut: number;
}

function layoutOf(cache: PagedKvCache, model: ModelFingerprint, mode: HashMode): FileLayout {
  return {
    modelHash: model.hash,
    description: model.description,
    numLayers: cache.numLayers,
    numKvHeads: cache.numKvHeads,
    headDim: cache.headDim,
    blockSize: cache.blockSize,
    hashMode: mode,
    format: cache.format,
    storeFormat: cache.tiers?.storeFormat ?? "",
    payloadBytes: cache.blockPayloadBytes,
  };
}

/**
 * The registered blocks to save, parents before children, each with its parent's record index;
 * `ids[i]` is record i's pool block, or -1 for a block only the host tier holds (its payload is
 * then in `blocks[i].payload` already, in the pool's format).
 */
function collect(
  cache: PagedKvCache,
  mode: HashMode,
  only: Set<number> | null,
): { blocks: FileBlock[]; ids: number[]; skipped: number } {
  const a = cache.allocator;
  // depth of each registered block whose chain verifies up to the root; -1 = not saved
  const depth = new Int32Array(cache.numBlocks).fill(-2);
  const hashOf = new Array<bigint>(cache.numBlocks);
  const visit = (b: number): number => {
    if (depth[b] !== -2) return depth[b]!;
    depth[b] = -1; // until proven
    const hash = a.hashOfBlock(b);
    const c = a.contentOfBlock(b);
    if (typeof hash !== "bigint" || c === undefined || c.tokens.length !== cache.blockSize) return -1;
    if (only !== null && !only.has(b)) return -1;
    let parentHash = ROOT_HASH;
    let d = 0;
    if (c.parent !== -1) {
      if (a.generation(c.parent) !== c.parentGeneration) return -1;
      const pd = visit(c.parent);
      if (pd < 0) return -1;
      parentHash = hashOf[c.parent]!;
      d = pd + 1;
    }
    if (blockHashFromWords(parentHash, c.tokens, c.extra, mode) !== hash) return -1;
    hashOf[b] = hash;
    depth[b] = d;
    return d;
  };
  let registered = 0;
  for (let b = 0; b < cache.numBlocks; b++) {
    if (a.hashOfBlock(b) === undefined || (only !== null && !only.has(b))) continue;
    registered++;
    visit(b);
  }
  const ids: number[] = [];
  for (let b = 0; b < cache.numBlocks; b++) if (depth[b]! >= 0) ids.push(b);
  ids.sort((x, y) => depth[x]! - depth[y]! || x - y);
  const index = new Map<number, number>();
  const blocks = ids.map((b, i) => {
    index.set(b, i);
    const c = a.contentOfBlock(b)!;
    return {
      hash: hashOf[b]!,
      parent: c.parent === -1 ? -1 : index.get(c.parent)!,
      tokens: c.tokens,
      extra: c.extra,
      payload: new Uint8Array(0), // read while writing, one block at a time
    };
  });
  const fromHost = only === null ? collectHost(cache, mode, blocks) : { added: 0, skipped: 0 };
  for (let i = 0; i < fromHost.added; i++) ids.push(-1);
  return { blocks, ids, skipped: registered - (ids.length - fromHost.added) + fromHost.skipped };
}

/**
 * Appends the blocks only the host tier holds (the pool recycled them) to `blocks`, verified as
 * the pool's are: each chain hash recomputed from its parent's hash, tokens and extra keys, and
 * its parent saved before it (a pool block or another host block), else it is skipped.
 */
function collectHost(
  cache: PagedKvCache,
  mode: HashMode,
  blocks: FileBlock[],
): { added: number; skipped: number } {
  const host = cache.hostTier;
  if (host === null) return { added: 0, skipped: 0 };
  const index = new Map<bigint, number>();
  for (let i = 0; i < blocks.length; i++) index.set(blocks[i]!.hash, i);
  const pending = new Map<bigint, HostBlock>();
  for (const h of host.blocks()) if (typeof h.hash === "bigint" && !index.has(h.hash)) pending.set(h.hash, h);
  const start = blocks.length;
  const state = new Map<bigint, "visiting" | "bad">();
  // Parents first: a block is added once its parent is (depth-first, each block at most once).
  const add = (h: HostBlock): boolean => {
    if (index.has(h.hash as bigint)) return true;
    if (state.has(h.hash as bigint)) return false; // bad, or a cycle of lying parent hashes
    state.set(h.hash as bigint, "visiting");
    let parent = -1;
    let parentHash = ROOT_HASH;
    if (h.parentHash !== null) {
      if (typeof h.parentHash !== "bigint") return bad(h);
      const p = index.get(h.parentHash) ?? -2;
      const up =
        p >= 0
          ? p
          : pending.has(h.parentHash) && add(pending.get(h.parentHash)!)
            ? index.get(h.parentHash)!
            : -1;
      if (up < 0) return bad(h);
      parent = up;
      parentHash = h.parentHash;
    }
    const payload = cache.hostPayloadToPool(h.payload);
    if (
      payload === null ||
      h.tokens.length !== cache.blockSize ||
      blockHashFromWords(parentHash, h.tokens, h.extra, mode) !== h.hash
    )
      return bad(h);
    index.set(h.hash as bigint, blocks.length);
    blocks.push({ hash: h.hash as bigint, parent, tokens: h.tokens, extra: h.extra, payload });
    return true;
  };
  const bad = (h: HostBlock): false => {
    state.set(h.hash as bigint, "bad");
    return false;
  };
  let skipped = 0;
  for (const h of pending.values()) if (!add(h)) skipped++;
  return { added: blocks.length - start, skipped };
}

/**
 * Writes the cache's registered blocks (or one sequence's) to `path`: to a temporary file
 * beside it, then renamed over it, so a reader never sees a half-written file.
 */
export function saveKvFile(cache: PagedKvCache, path: string, o: SaveOptions): SaveResult {
  const mode = o.mode ?? "fast";
  const only = o.sequence ? new Set(o.sequence.blockIds()) : null;
  const layout = layoutOf(cache, o.model, mode);
  const { blocks, ids, skipped } = collect(cache, mode, only);
  let total = 0;
  for (const b of blocks) total += recordBytes(layout, b.extra?.length ?? 0);
  const header = encodeHeader(layout, blocks.length, total);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, header);
    const payload = new Uint8Array(cache.blockPayloadBytes);
    for (let i = 0; i < blocks.length; i++) {
      if (ids[i]! >= 0) blocks[i]!.payload = cache.readBlockPayload(ids[i]!, payload);
      writeSync(fd, encodeRecord(layout, blocks[i]!));
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return { blocks: blocks.length, bytes: header.length + total, skipped };
}

/** Maps the file (an empty or missing one is an LlmemError, not a crash). */
function mapFile(path: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new LlmemError(
      "INVALID_ARGUMENT",
      `cannot read KV file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      {
        argument: "path",
      },
    );
  }
  if (size === 0) return new Uint8Array(0);
  return Bun.mmap(path, { shared: false });
}

/** Blocks a KV file says it holds (its header checked), or 0 when it is absent or not a KV file: for sizing a pool. */
export function kvFileBlockCount(path: string): number {
  try {
    return parseHeader(mapFile(path)).blocks;
  } catch {
    return 0;
  }
}

/** The whole file checked against this cache and model; throws FORMAT_ERROR on the first fault. */
export function readKvFile(
  cache: PagedKvCache,
  path: string,
  o: KvFileOptions,
): { layout: FileLayout; blocks: FileBlock[] } {
  const file = mapFile(path);
  const { layout, blocks: count, recordsAt } = parseHeader(file);
  if (layout.modelHash !== o.model.hash || layout.description !== o.model.description) {
    throw new LlmemError(
      "FORMAT_ERROR",
      `KV file ${path} was made by another model (fingerprint ${layout.modelHash.toString(16)}, this one ${o.model.hex})`,
      {
        expected: o.model.hex,
      },
    );
  }
  const want = layoutOf(cache, o.model, layout.hashMode);
  for (const k of ["numLayers", "numKvHeads", "headDim", "blockSize", "format", "payloadBytes"] as const) {
    if (layout[k] !== want[k]) {
      throw new LlmemError(
        "FORMAT_ERROR",
        `KV file ${path}: ${k} is ${layout[k]}, this cache's is ${want[k]}`,
        {
          field: k,
        },
      );
    }
  }
  return { layout, blocks: parseRecords(file, layout, count, recordsAt) };
}

function sameWords(a: Uint32Array | null, b: Uint32Array | null): boolean {
  const n = a?.length ?? 0;
  if (n !== (b?.length ?? 0)) return false;
  for (let i = 0; i < n; i++) if (a![i] !== b![i]) return false;
  return true;
}

/** Whether pool block `b` holds file block `f` after pool block `parent` as it is now. */
function holds(a: BlockAllocator, b: number, f: FileBlock, parent: number): boolean {
  const c = a.contentOfBlock(b);
  if (
    c === undefined ||
    c.parent !== parent ||
    !sameWords(c.tokens, f.tokens) ||
    !sameWords(c.extra, f.extra)
  )
    return false;
  return parent === -1 || c.parentGeneration === a.generation(parent);
}

/**
 * Restores a file `saveKvFile` wrote into the cache's prefix cache: validated completely first
 * (FORMAT_ERROR for a truncated, damaged or other-model file; CAPACITY_EXCEEDED when the pool
 * has fewer free blocks than the file holds), then each block is copied into a pool block and
 * registered, and left soft-free: the next prompt with that prefix adopts it.
 */
export function restoreKvFile(cache: PagedKvCache, path: string, o: RestoreOptions): RestoreResult {
  const all = readKvFile(cache, path, o).blocks;
  const a = cache.allocator;
  const room = a.freeCount - cache.stats().reservedBlocks;
  // parents come before children, so any leading run of records is whole chains' heads
  const blocks = o.fit === true ? all.slice(0, Math.max(0, room)) : all;
  if (blocks.length > room) {
    throw new LlmemError(
      "CAPACITY_EXCEEDED",
      `KV file ${path} holds ${blocks.length} blocks, the pool has ${room} free and unpromised`,
      { requested: blocks.length, available: room },
    );
  }
  const blockOf = new Int32Array(blocks.length);
  const held: number[] = [];
  const result: RestoreResult = { blocks: 0, present: 0, skipped: 0, leftOut: all.length - blocks.length };
  try {
    for (let i = 0; i < blocks.length; i++) {
      const f = blocks[i]!;
      const parent = f.parent < 0 ? -1 : blockOf[f.parent]!;
      if (parent === -2) {
        blockOf[i] = -2;
        result.skipped++;
        continue;
      }
      const holder = a.peekHash(f.hash);
      if (holder !== null) {
        if (!holds(a, holder, f, parent)) {
          blockOf[i] = -2; // its hash names other content here: neither it nor its children can be found
          result.skipped++;
          continue;
        }
        if (a.refCount(holder) > 0) a.acquire(holder);
        else a.tryAcquireByHash(f.hash);
        held.push(holder);
        blockOf[i] = holder;
        result.present++;
        continue;
      }
      const b = a.allocate();
      held.push(b);
      cache.writeBlockPayload(b, f.payload, "file");
      a.registerBlockHash(b, f.hash, { tokens: f.tokens, extra: f.extra, parent });
      blockOf[i] = b;
      result.blocks++;
    }
  } finally {
    a.free(held.reverse()); // tail first: with LRU eviction a chain's tail is recycled before its head
  }
  return result;
}
