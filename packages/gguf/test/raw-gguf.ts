/**
 * Hand-built GGUF bytes for hostile-file tests: every field written as given, however
 * wrong, so each test can break exactly one rule.
 */
import { ByteWriter } from "../src/byte-writer.ts";

export class RawGguf {
  readonly w = new ByteWriter();

  constructor(opts: { version?: number; tensors?: bigint; kvs?: bigint; magic?: string } = {}) {
    this.w.bytes(new TextEncoder().encode(opts.magic ?? "GGUF"));
    this.w.u32(opts.version ?? 3);
    this.w.u64(opts.tensors ?? 0n);
    this.w.u64(opts.kvs ?? 0n);
  }

  str(s: string | Uint8Array, length?: bigint): this {
    const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
    this.w.u64(length ?? BigInt(b.byteLength));
    this.w.bytes(b);
    return this;
  }

  u32(v: number): this {
    this.w.u32(v);
    return this;
  }

  u64(v: bigint): this {
    this.w.u64(v);
    return this;
  }

  u8(v: number): this {
    this.w.u8(v);
    return this;
  }

  /** A key with a u32 value. */
  kvU32(key: string, v: number): this {
    return this.str(key).u32(4).u32(v);
  }

  /** A tensor info. */
  tensor(name: string, dims: readonly bigint[], type: number, offset: bigint): this {
    this.str(name).u32(dims.length);
    for (const d of dims) this.u64(d);
    return this.u32(type).u64(offset);
  }

  /** Zero bytes up to the next multiple of `alignment`, then `dataBytes` more zero bytes. */
  data(dataBytes: number, alignment = 32): this {
    while (this.w.length % alignment !== 0) this.w.u8(0);
    this.w.bytes(new Uint8Array(dataBytes));
    return this;
  }

  bytes(): Uint8Array {
    return this.w.result().slice();
  }
}
