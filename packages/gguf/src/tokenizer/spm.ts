/**
 * SentencePiece BPE as llama.cpp runs it (llm_tokenizer_spm): start from single code points,
 * repeatedly merge the adjacent pair whose concatenation is the highest-scoring token (ties:
 * the leftmost pair), until no adjacent pair forms a token. Whatever is left that is not a
 * token falls back to its UTF-8 bytes as `<0xXX>` tokens.
 *
 * Symbols live in a linked list over the text and candidate pairs in a heap, so a merge costs
 * O(log n) instead of a rescan; a pair made stale by a neighbour's merge is recognised on
 * pop by its recorded length no longer matching.
 */

import { LlmemError } from "@llmem/core";
import { utf8 } from "./bytes.ts";
import { Heap } from "./heap.ts";
import type { Vocab } from "./vocab.ts";

interface Bigram {
  readonly left: number;
  readonly right: number;
  readonly score: number;
  /** Length of the pair's text when queued (UTF-16 units). */
  readonly length: number;
}

const bigramFirst = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

/** Appends the tokens of `text` (spaces already written as ▁) to `out`. */
export function spmTokenize(text: string, vocab: Vocab, unk: number | null, out: number[]): void {
  if (text.length === 0) return;
  // One symbol per code point: start offset and length in UTF-16 units, doubly linked.
  const n = text.length;
  const start = new Int32Array(n);
  const len = new Int32Array(n);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    const w = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
    start[count] = i;
    len[count] = w;
    prev[count] = count - 1;
    next[count] = count + 1;
    count++;
    i += w;
  }
  next[count - 1] = -1;

  const queue = new Heap<Bigram>(bigramFirst);
  const tryPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const pairLength = len[left]! + len[right]!;
    if (pairLength > vocab.maxTokenLength) return;
    const id = vocab.idOf(text.substr(start[left]!, pairLength));
    // Control and unknown tokens are never merged into (SentencePiece keeps them out of its
    // pieces; llama.cpp would merge into one if its text could be built from other pieces,
    // which no real vocabulary allows).
    if (id < 0 || vocab.isSpecial(id)) return;
    queue.push({ left, right, score: vocab.scores[id]!, length: pairLength });
  };
  for (let i = 1; i < count; i++) tryPair(i - 1, i);

  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const { left, right } = b;
    if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== b.length) continue;
    len[left]! += len[right]!;
    len[right] = 0;
    next[left] = next[right]!;
    if (next[right]! >= 0) prev[next[right]!] = left;
    tryPair(prev[left]!, left);
    tryPair(left, next[left]!);
  }

  for (let i = 0; i !== -1; i = next[i]!) {
    const piece = text.substr(start[i]!, len[i]!);
    const id = vocab.idOf(piece);
    if (id >= 0 && !vocab.isSpecial(id)) {
      out.push(id);
      continue;
    }
    // Every merged symbol is a token, so only single code points get here (llama.cpp's
    // rev_merge re-segmentation never finds them). Their bytes become byte tokens.
    const bytes = utf8(piece);
    if (bytes.every((byte) => vocab.byteTokens[byte]! >= 0)) {
      for (const byte of bytes) out.push(vocab.byteTokens[byte]!);
    } else if (unk !== null) {
      // llama.cpp aborts here; SentencePiece without byte fallback gives one unknown token.
      out.push(unk);
    } else {
      throw new LlmemError(
        "UNSUPPORTED",
        `the vocabulary has no byte tokens for ${JSON.stringify(piece)} and no unknown token`,
        { piece },
      );
    }
  }
}
