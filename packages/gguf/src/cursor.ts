import { formatError } from "./errors.ts";

/**
 * Little-endian reads over the file bytes, each checked against the end before it happens:
 * a truncated file fails with the name of the field that ran out, never a RangeError.
 * (GGUF v2/v3 as llama.cpp writes them are little-endian; big-endian files are not read.)
 */
export class Cursor {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  /** Throws unless `n` more bytes exist; `field` names what was being read. */
  need(n: number, field: string): void {
    if (n > this.remaining) {
      throw formatError(
        field,
        `needs ${n} bytes at offset ${this.pos} but the file ends at ${this.bytes.byteLength} (truncated)`,
        { offset: this.pos, needed: n, fileLength: this.bytes.byteLength },
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  i8(field: string): number {
    this.need(1, field);
    return this.view.getInt8(this.pos++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  i16(field: string): number {
    this.need(2, field);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f32(field: string): number {
    this.need(4, field);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(field: string): number {
    this.need(8, field);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  i64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * A u64 count of items that each take at least `bytesEach` bytes of what follows, returned
   * as a number. The bound is checked on the bigint before anything is allocated or looped
   * over, so a count of 2^40 fails here with the limit in the message.
   */
  count(field: string, bytesEach: number, unit: string): number {
    const start = this.pos;
    const v = this.u64(field);
    const max = Math.floor(this.remaining / bytesEach);
    if (v > BigInt(max)) {
      throw formatError(
        field,
        `${v} exceeds ${max}, the most ${unit} (at least ${bytesEach} bytes each) the ${this.remaining} remaining bytes can hold (truncated or corrupt)`,
        { offset: start, value: v, limit: max },
      );
    }
    return Number(v);
  }

  /** `n` bytes as a view into the file (no copy). */
  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
