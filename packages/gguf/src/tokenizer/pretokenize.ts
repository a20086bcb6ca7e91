/**
 * Pre-tokenizers for byte-level BPE: the name in `tokenizer.ggml.pre` picks the list of
 * regexes llama.cpp splits text with before merging (llama-vocab.cpp, per
 * LLAMA_VOCAB_PRE_TYPE_*), plus the flags that name implies (merges ignored for whole-word
 * tokens, BOS added, clean-up of spaces on decode). The regexes are those of the models'
 * tokenizer.json files as llama.cpp spells them; they run one after another, each splitting
 * the pieces the previous ones left.
 */

import { LlmemError } from "@llmem/core";
import { splitGpt2, splitLlama3 } from "./split-custom.ts";
import { type CompiledSplitRegex, collapseText, compileSplitRegex, splitByRegex } from "./split-regex.ts";
import { codePointsOf, stringOfCodePoints } from "./unicode.ts";

/** The GPT-2 regex; llama.cpp scans it with a hand-written splitter (split-custom.ts). */
export const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
/** Llama 3's regex, case-insensitive contractions spelled out; also hand-scanned by llama.cpp. */
export const LLAMA3_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const CJK_RUNS = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
const NO_SPLIT_PUNCT = " ?[^(\\s|.,!?…。，、।۔،)]+";

/** Regex lists by llama.cpp's pre-tokenizer type. */
const REGEXES: Record<string, readonly string[]> = {
  default: ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_REGEX, "\\p{N}+", "[0-9][0-9][0-9]"],
  gpt2: [GPT2_REGEX],
  llama3: [LLAMA3_REGEX],
  qwen2: [QWEN2_REGEX],
  starcoder: ["\\p{N}", GPT2_REGEX],
  falcon: ["[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_REGEX, "[0-9][0-9][0-9]"],
  "deepseek-coder": ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_RUNS, "\\p{N}"],
  "deepseek-llm": [
    "[\r\n]",
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\u{10400}-\u{1044f}\u{104b0}-\u{104d3}\u{104d8}-\u{104fb}\u{10c80}-\u{10cb2}\u{10cc0}-\u{10cf2}\u{118a0}-\u{118df}\u{1e900}-\u{1e943}]+",
    "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
    "\\s+$",
    CJK_RUNS,
    "\\p{N}+",
  ],
  "deepseek-v3": [
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
  ],
  poro: [NO_SPLIT_PUNCT],
  viking: [NO_SPLIT_PUNCT, "\\p{N}"],
  chatglm4: [LLAMA3_REGEX],
};

interface PreTypeFlags {
  /** Which REGEXES entry. */
  readonly regexes: keyof typeof REGEXES;
  /** A whole pre-tokenized word that is a token is emitted as is, without merging. */
  readonly ignoreMerges?: boolean;
  /** BOS is added unless `tokenizer.ggml.add_bos_token` says otherwise. */
  readonly addBos?: boolean;
  /** Decoding tidies " ," " 's" etc. (llama.cpp clean_spaces); true unless said here. */
  readonly cleanSpaces?: boolean;
  /** No BOS token by default (chatglm). */
  readonly noBos?: boolean;
}

/** `tokenizer.ggml.pre` names llama.cpp knows (llama_vocab::impl::load), and what each implies. */
const PRE_TYPES: Record<string, PreTypeFlags> = {
  default: { regexes: "default" },
  llama3: { regexes: "llama3", ignoreMerges: true, addBos: true },
  "llama-v3": { regexes: "llama3", ignoreMerges: true, addBos: true },
  "llama-bpe": { regexes: "llama3", ignoreMerges: true, addBos: true },
  falcon3: { regexes: "llama3", ignoreMerges: true, addBos: true },
  "deepseek-llm": { regexes: "deepseek-llm", cleanSpaces: false },
  "deepseek-coder": { regexes: "deepseek-coder", cleanSpaces: false },
  "deepseek-v3": { regexes: "deepseek-v3", cleanSpaces: false },
  falcon: { regexes: "falcon" },
  mpt: { regexes: "gpt2" },
  starcoder: { regexes: "starcoder" },
  "gpt-2": { regexes: "gpt2" },
  "phi-2": { regexes: "gpt2" },
  "jina-es": { regexes: "gpt2" },
  "jina-de": { regexes: "gpt2" },
  gigachat: { regexes: "gpt2" },
  "jina-v1-en": { regexes: "gpt2" },
  "roberta-bpe": { regexes: "gpt2" },
  refact: { regexes: "starcoder" },
  "command-r": { regexes: "starcoder", cleanSpaces: false },
  qwen2: { regexes: "qwen2", cleanSpaces: false },
  "deepseek-r1-qwen": { regexes: "qwen2", cleanSpaces: false },
  megrez: { regexes: "qwen2" },
  stablelm2: { regexes: "qwen2" },
  olmo: { regexes: "gpt2" },
  dbrx: { regexes: "llama3" },
  "smaug-bpe": { regexes: "llama3" },
  "poro-chat": { regexes: "poro", cleanSpaces: false },
  "chatglm-bpe": { regexes: "chatglm4", noBos: true },
  viking: { regexes: "viking", cleanSpaces: false },
  jais: { regexes: "gpt2" },
  smollm: { regexes: "starcoder", cleanSpaces: false },
  codeshell: { regexes: "starcoder" },
  bloom: { regexes: "poro" },
  "gpt3-finnish": { regexes: "poro" },
  exaone: { regexes: "starcoder" },
  "minerva-7b": { regexes: "starcoder" },
};

export const PRE_TOKENIZER_NAMES: readonly string[] = Object.keys(PRE_TYPES);

/** A pre-tokenizer: splits text into the words BPE merges within. */
export class PreTokenizer {
  readonly name: string;
  readonly ignoreMerges: boolean;
  readonly addBos: boolean;
  readonly cleanSpaces: boolean;
  readonly hasBos: boolean;
  readonly regexes: readonly string[];
  private readonly steps: readonly ((
    cps: Uint32Array,
    segs: number[],
    collapsed: () => string,
  ) => number[])[];

  constructor(name: string) {
    const flags = PRE_TYPES[name];
    if (flags === undefined) {
      throw new LlmemError(
        "UNSUPPORTED",
        `pre-tokenizer ${JSON.stringify(name)} (tokenizer.ggml.pre) is not supported; known: ${PRE_TOKENIZER_NAMES.join(", ")}`,
        { pre: name },
      );
    }
    this.name = name;
    this.ignoreMerges = flags.ignoreMerges ?? false;
    this.addBos = flags.addBos ?? false;
    this.cleanSpaces = flags.cleanSpaces ?? true;
    this.hasBos = !flags.noBos;
    this.regexes = REGEXES[flags.regexes]!;
    this.steps = this.regexes.map((expr) => {
      // Same choice as llama.cpp: the two regexes it has scanners for, by exact text.
      if (expr === GPT2_REGEX) return (cps: Uint32Array, segs: number[]) => splitGpt2(cps, segs);
      if (expr === LLAMA3_REGEX) return (cps: Uint32Array, segs: number[]) => splitLlama3(cps, segs);
      const compiled: CompiledSplitRegex = compileSplitRegex(expr);
      return (cps: Uint32Array, segs: number[], collapsed: () => string) =>
        splitByRegex(cps, segs, compiled, compiled.collapsed ? collapsed() : undefined);
    });
  }

  /** Word lengths in code points, in order, summing to the number of code points. */
  splitCodePoints(cps: Uint32Array): number[] {
    let collapsed: string | undefined;
    const getCollapsed = () => {
      collapsed ??= collapseText(cps);
      return collapsed;
    };
    let segs = cps.length > 0 ? [cps.length] : [];
    for (const step of this.steps) segs = step(cps, segs, getCollapsed);
    return segs;
  }

  /** The words of `text` as strings (for tests and inspection). */
  split(text: string): string[] {
    const cps = codePointsOf(text);
    const words: string[] = [];
    let start = 0;
    for (const len of this.splitCodePoints(cps)) {
      words.push(stringOfCodePoints(cps, start, start + len));
      start += len;
    }
    return words;
  }
}
