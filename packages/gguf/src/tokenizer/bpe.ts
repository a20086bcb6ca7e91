/**
 * Byte-level BPE as llama.cpp runs it (llm_tokenizer_bpe): within each pre-tokenized word
 * (spelled in GPT-2's byte stand-ins), repeatedly merge the adjacent pair with the lowest
 * merge rank (ties: the leftmost), until no adjacent pair has a rank; then each symbol is
 * looked up as a token.
 */

import { Heap } from "./heap.ts";
import type { Vocab } from "./vocab.ts";

/** Merge ranks keyed `left + " " + right` (byte-level symbols never contain a space). */
export type MergeRanks = ReadonlyMap<string, number>;

/**
 * Ranks from `tokenizer.ggml.merges` ("left right", rank = index), split at the first space
 * after the first character as llama.cpp does; a repeated pair keeps its first rank. Merges
 * whose halves hold a space or newline could never apply (the symbols they would join never
 * hold either) and are left out.
 */
export function mergeRanks(merges: readonly string[]): Map<string, number> {
  const ranks = new Map<string, number>();
  merges.forEach((merge, rank) => {
    const at = merge.indexOf(" ", 1);
    if (at < 0) return;
    const left = merge.slice(0, at);
    const right = merge.slice(at + 1);
    if (/[ \n]/.test(left) || /[ \n]/.test(right) || left === "" || right === "") return;
    const key = `${left} ${right}`;
    if (!ranks.has(key)) ranks.set(key, rank);
  });
  return ranks;
}

interface Bigram {
  readonly left: number;
  readonly right: number;
  readonly rank: number;
  readonly length: number;
}

const bigramFirst = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

/** Appends the tokens of one byte-level word to `out`. */
export function bpeTokenizeWord(
  word: string,
  vocab: Vocab,
  ranks: MergeRanks,
  ignoreMerges: boolean,
  out: number[],
): void {
  const n = word.length;
  if (n === 0) return;
  if (ignoreMerges) {
    const id = vocab.idOf(word);
    if (id >= 0 && !vocab.isSpecial(id)) {
      out.push(id);
      return;
    }
  }
  // Stand-ins are all in the BMP: one symbol per UTF-16 unit to start with.
  const len = new Int32Array(n).fill(1);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1;
  }
  next[n - 1] = -1;

  const queue = new Heap<Bigram>(bigramFirst);
  const tryPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const rank = ranks.get(`${word.substr(left, len[left]!)} ${word.substr(right, len[right]!)}`);
    if (rank === undefined) return;
    queue.push({ left, right, rank, length: len[left]! + len[right]! });
  };
  for (let i = 1; i < n; i++) tryPair(i - 1, i);

  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const { left, right } = b;
    // Stale if either side was merged away or grew since the pair was queued.
    if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== b.length) continue;
    len[left]! += len[right]!;
    len[right] = 0;
    next[left] = next[right]!;
    if (next[right]! >= 0) prev[next[right]!] = left;
    tryPair(prev[left]!, left);
    tryPair(left, next[left]!);
  }

  for (let i = 0; i !== -1; i = next[i]!) {
    const symbol = word.substr(i, len[i]!);
    const id = vocab.idOf(symbol);
    // A control token's text is never spelled by merges in a real vocabulary; if one is,
    // it still must not come from plain text, so it is handled like a missing token.
    if (id >= 0 && !vocab.isSpecial(id)) {
      out.push(id);
      continue;
    }
    // A merge result missing from the vocabulary: llama.cpp looks up each UTF-8 byte of the
    // symbol's spelling as a one-byte token and drops those that are not (only ASCII can be).
    for (let k = 0; k < symbol.length; k++) {
      const c = symbol.charCodeAt(k);
      if (c < 0x80) {
        const byteId = vocab.idOf(symbol[k]!);
        if (byteId >= 0) out.push(byteId);
      }
    }
  }
}
