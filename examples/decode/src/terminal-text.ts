/**
 * Text a model emits, made safe for a terminal: a model (a random one above all) can emit
 * CR, VT, FF, ESC or C1 controls that move the cursor, clear the screen or start escape
 * sequences. They are written as visible escapes (`\x0b`, `\u009b`) instead; newline and tab
 * stay, since they only lay text out.
 */

// C0 controls but \t and \n, DEL, and the C1 range U+0080–U+009F; the second also \t and \n.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS_AND_LAYOUT = /[\x00-\x1f\x7f-\x9f]/g;

/** `text` with every control character as a visible escape; `oneLine` escapes \n and \t too. */
export function escapeControls(text: string, oneLine = false): string {
  return text.replace(oneLine ? CONTROLS_AND_LAYOUT : CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x80
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Escapes a stream of UTF-8 pieces; a character split across pieces is held until complete. */
export class EscapingStream {
  private readonly decoder = new TextDecoder();

  push(piece: Uint8Array): string {
    return escapeControls(this.decoder.decode(piece, { stream: true }));
  }

  /** What a truncated character at the end of the stream leaves (U+FFFD), escaped. */
  end(): string {
    return escapeControls(this.decoder.decode());
  }
}
