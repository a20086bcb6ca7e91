/**
 * Cutting special tokens out of text before tokenizing (llama.cpp tokenizer_st_partition).
 * User-defined tokens are always cut out, as Hugging Face's added tokens are; control and
 * unknown tokens only when parsing special tokens was asked for, so plain text can never
 * produce them. Longer token texts are cut first.
 */

import { Attr, type Vocab } from "./vocab.ts";

export type Fragment = { readonly token: number } | { readonly text: string };

/** C isspace, which llama.cpp's lstrip/rstrip use. */
function isCSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\v" || ch === "\f" || ch === "\r";
}

export function partitionSpecial(text: string, vocab: Vocab, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [{ text }] : [];
  for (const id of vocab.specialIds) {
    const attr = vocab.attrs[id]!;
    if (!parseSpecial && attr & (Attr.CONTROL | Attr.UNKNOWN)) continue;
    const needle = vocab.texts[id]!;
    const cut: Fragment[] = [];
    for (const fragment of fragments) {
      if (!("text" in fragment)) {
        cut.push(fragment);
        continue;
      }
      const raw = fragment.text;
      let from = 0;
      for (;;) {
        const at = raw.indexOf(needle, from);
        if (at < 0) {
          if (from < raw.length) cut.push(from === 0 ? fragment : { text: raw.slice(from) });
          break;
        }
        let leftEnd = at;
        if (attr & Attr.LSTRIP) while (leftEnd > from && isCSpace(raw[leftEnd - 1]!)) leftEnd--;
        if (leftEnd > from) cut.push({ text: raw.slice(from, leftEnd) });
        cut.push({ token: id });
        from = at + needle.length;
        if (attr & Attr.RSTRIP) while (from < raw.length && isCSpace(raw[from]!)) from++;
      }
    }
    fragments = cut;
  }
  return fragments;
}
