/**
 * Streaming detokenization: tokens arrive one at a time, and a character may be split
 * across them (byte tokens `<0xE2>` `<0x96>` `<0x81>`, or byte-level BPE pieces ending
 * mid-character). The decoder holds an incomplete UTF-8 tail until the bytes that complete
 * it arrive, so it never emits half a character; bytes that can no longer become a valid
 * character come out as U+FFFD at once, as any UTF-8 decoder reports them.
 */

export interface StreamDecoderOptions {
  /** Emit control and unknown tokens' texts (default false: they emit nothing). */
  readonly special?: boolean;
  /** Drop one leading space from the first piece (SentencePiece's space prefix; default false). */
  readonly stripLeadingSpace?: boolean;
  /**
   * Leave out C0 control characters other than tab and newline, DEL and C1 controls, which
   * a model can produce through byte tokens and which would drive a terminal (default false).
   */
  readonly dropControlChars?: boolean;
}

/** C0 except tab and newline, DEL, C1. */
function isControlChar(code: number): boolean {
  return (code < 0x20 && code !== 0x09 && code !== 0x0a) || (code >= 0x7f && code <= 0x9f);
}

function withoutControlChars(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) if (!isControlChar(text.charCodeAt(i))) out += text[i];
  return out;
}

export class StreamDecoder {
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private readonly special: boolean;
  private readonly dropControl: boolean;
  private stripSpace: boolean;

  constructor(
    private readonly piece: (id: number, special: boolean) => Uint8Array,
    options: StreamDecoderOptions = {},
  ) {
    this.special = options.special ?? false;
    this.stripSpace = options.stripLeadingSpace ?? false;
    this.dropControl = options.dropControlChars ?? false;
  }

  private emit(text: string): string {
    return this.dropControl ? withoutControlChars(text) : text;
  }

  /** The text completed by token `id` (possibly ""). */
  push(id: number): string {
    let bytes = this.piece(id, this.special);
    if (this.stripSpace) {
      // Only the first token's piece, as llama_detokenize does, even when that piece is empty.
      if (bytes[0] === 0x20) bytes = bytes.subarray(1);
      this.stripSpace = false;
    }
    return this.emit(this.decoder.decode(bytes, { stream: true }));
  }

  /** Ends the stream: a tail that never completed comes out as U+FFFD. */
  flush(): string {
    return this.emit(this.decoder.decode());
  }
}
